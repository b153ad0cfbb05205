// The read API answers a read-cache hit before Yoga runs (docs/read-cache.md, "Early answers"), so
// such a request reaches no plugin hook. A plugin that watches every request (a hook that runs for
// a request Yoga answers from the cache: onRequest, onParams, onResponse ...) says here what it does
// for an early answer; an observer plugin that has such hooks and says nothing turns early answers
// off, so that nothing it watches goes unseen.
import type { Plugin } from 'graphql-yoga';

/** A request answered early: when it arrived, and what it asked for (as Yoga's onParams would have seen it). */
export interface EarlyAnswer {
  started: number;
  params: { query?: string; operationName?: string | null };
}

export type EarlyAnswerObserver = (answer: EarlyAnswer) => void;

const observers = new WeakMap<Plugin, EarlyAnswerObserver>();

/** Registers what `plugin` does for an early answer; returns the plugin. */
export function observingEarlyAnswers<P extends Plugin>(plugin: P, observer: EarlyAnswerObserver): P {
  observers.set(plugin, observer);
  return plugin;
}

/** The hooks Yoga runs for a request it answers from the read cache (it parses, validates and executes nothing). */
const requestHooks = [
  'onPluginInit',
  'onRequest',
  'onRequestParse',
  'onParams',
  'onExecutionResult',
  'onResultProcess',
  'onResponse',
  'instrumentation',
] as const;

/**
 * What each of `plugins` does for an early answer, or undefined when one of them watches requests
 * without saying (early answers must then stay off). A plugin whose hooks never run for a cached
 * answer (onExecute, onSubscribe: the tracing plugin) needs nothing.
 */
export function earlyAnswerObservers(plugins: readonly Plugin[]): EarlyAnswerObserver[] | undefined {
  const found: EarlyAnswerObserver[] = [];
  for (const plugin of plugins) {
    const observer = observers.get(plugin);
    if (observer) found.push(observer);
    else if (requestHooks.some((hook) => plugin[hook] !== undefined)) return undefined;
  }
  return found;
}
