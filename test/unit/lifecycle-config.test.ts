// The probe and shutdown settings (docs/operations.md): defaults, and values refused at start.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { configProblems } from '../support/config-problems.ts';

describe('lifecycle settings', () => {
  it('default to a 10 s shutdown deadline, 1 s readiness checks and no probe port of their own', () => {
    expect(loadConfig({}, []).lifecycle).toEqual({ shutdownTimeoutMs: 10_000, readinessTimeoutMs: 1_000, healthPort: undefined });
  });

  it('read SHUTDOWN_TIMEOUT_MS, READINESS_TIMEOUT_MS and HEALTH_PORT (0: any free port)', () => {
    expect(loadConfig({ SHUTDOWN_TIMEOUT_MS: '25000', READINESS_TIMEOUT_MS: '250', HEALTH_PORT: '9000' }, []).lifecycle).toEqual({
      shutdownTimeoutMs: 25_000,
      readinessTimeoutMs: 250,
      healthPort: 9000,
    });
    expect(loadConfig({ HEALTH_PORT: '0' }, []).lifecycle.healthPort).toBe(0);
    expect(loadConfig({ HEALTH_PORT: ' ' }, []).lifecycle.healthPort).toBeUndefined();
  });

  it('refuse values out of range', () => {
    expect(configProblems({ SHUTDOWN_TIMEOUT_MS: '0', READINESS_TIMEOUT_MS: '5', HEALTH_PORT: '70000' })).toEqual([
      'SHUTDOWN_TIMEOUT_MS must be an integer from 100 to 3600000, got "0"',
      'READINESS_TIMEOUT_MS must be an integer from 10 to 60000, got "5"',
      'HEALTH_PORT must be an integer from 0 to 65535, got "70000"',
    ]);
  });
});
