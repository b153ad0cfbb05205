// What loadConfig refuses: the problems of the ConfigError it throws for `env` (a test fails when it throws none).
import { expect } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

export function configProblems(env: Record<string, string>): string[] {
  try {
    loadConfig(env, []);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return expect.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}
