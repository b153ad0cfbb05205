// The legs of `npm run bench`, in the order they run.
import type { Leg } from '../harness/leg.ts';
import { asyncLeg } from './async.ts';
import { fanoutLeg } from './fanout.ts';
import { pushLeg } from './push.ts';
import { readLeg } from './read.ts';
import { rebuildLeg } from './rebuild.ts';
import { sagaLeg } from './saga.ts';
import { securityLeg } from './security.ts';
import { seedLeg } from './seed.ts';
import { startLeg } from './start.ts';
import { tracingLeg } from './tracing.ts';
import { webhooksLeg } from './webhooks.ts';
import { writeLeg } from './write.ts';

export const legs: Leg[] = [readLeg, writeLeg, tracingLeg, pushLeg, fanoutLeg, securityLeg, webhooksLeg, sagaLeg, asyncLeg, rebuildLeg, seedLeg, startLeg];
