// The legs of `npm run bench`, in the order they run.
import type { Leg } from '../harness/leg.ts';
import { readLeg } from './read.ts';
import { writeLeg } from './write.ts';

export const legs: Leg[] = [readLeg, writeLeg];
