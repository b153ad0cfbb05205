// The legs of `npm run bench`, in the order they run.
import type { Leg } from '../harness/leg.ts';
import { asyncLeg } from './async.ts';
import { readLeg } from './read.ts';
import { rebuildLeg } from './rebuild.ts';
import { sagaLeg } from './saga.ts';
import { seedLeg } from './seed.ts';

export const legs: Leg[] = [readLeg, sagaLeg, asyncLeg, rebuildLeg, seedLeg];
