// Every read model the projector role runs.
import type { Projection } from '../cqrs/projection.ts';
import { userProfileProjection } from './users/views/user-profile.ts';

export const projections: Projection[] = [userProfileProjection];
