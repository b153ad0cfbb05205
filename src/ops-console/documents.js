// The ops console's GraphQL documents, in one module that the browser imports (console.js) and the
// server registers as trusted documents, so that the console keeps working when the write API accepts
// trusted documents only (docs/client-contract.md, "Trusted documents"). Plain JavaScript, no build.

export const statusSubscription = `subscription OpsConsoleStatus($everySeconds: Int) {
  projectionStatusUpdates(everySeconds: $everySeconds) { name kind state position lagEvents lagEventsCapped lagSeconds parked updatedAt }
}`;

export const listsQuery = `query OpsConsoleLists {
  parkedEvents { consumer kind position eventType key error attempts parkedAt retryRequestedAt }
  parkedSagas { process key step error attempts parkedAt }
  webhookEndpoints { id url status health { pending parked delivered lastDeliveredAt lastFailureAt lastError } }
}`;

export const recentQuery = `query OpsConsoleRecent { recentCommands(first: 20) { correlationId firstEventType actor startedAt events } }`;

export const lineageQuery = `query OpsConsoleLineage($id: ID!) { lineage(correlationId: $id) {
  correlationId durationMs truncated commandStatus
  commands { commandId causationId actor time depth
    events { position type aggregateType aggregateId recordedAt
      handledBy { consumer kind handledAt afterMs rowsChanged pushes sharedBatch }
      webhookDeliveries { endpointId status attempts } } } } }`;

/** A mutation's result union: the success type, or a typed refusal (every one implements Error). */
const outcome = (field, success) => `${field} { ... on ${success} { __typename } ... on Error { __typename code message } }`;
export const mutations = {
  retry: `mutation Retry($projection: String!, $position: String!) { ${outcome('retryParkedEvent(projection: $projection, position: $position)', 'MutationRetryParkedEventSuccess')} }`,
  discard: `mutation Discard($projection: String!, $position: String!) { ${outcome('discardParkedEvent(projection: $projection, position: $position)', 'MutationDiscardParkedEventSuccess')} }`,
  resume: `mutation Resume($process: String!, $key: String!) { ${outcome('resumeParkedSaga(process: $process, key: $key)', 'MutationResumeParkedSagaSuccess')} }`,
};

/** Every document the console sends, exactly as it sends it. */
export const opsConsoleDocuments = [statusSubscription, listsQuery, recentQuery, lineageQuery, ...Object.values(mutations)];
