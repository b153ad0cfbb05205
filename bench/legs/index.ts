// The legs of `npm run bench`, in the order they run.
import type { Leg } from '../harness/leg.ts';
import { fanoutLeg } from './fanout.ts';
import { pushLeg } from './push.ts';
import { readLeg } from './read.ts';
import { securityLeg } from './security.ts';
import { webhooksLeg } from './webhooks.ts';
import { writeLeg } from './write.ts';

export const legs: Leg[] = [readLeg, writeLeg, pushLeg, fanoutLeg, securityLeg, webhooksLeg];
