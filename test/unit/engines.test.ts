// The supported Node (package.json `engines`, `.nvmrc`) and what the locked dependencies ask for
// agree, so that `npm ci` installs without EBADENGINE warnings on it (docs/operations.md, "Node").
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

interface LockedPackage {
  engines?: { node?: string } | string[];
  optional?: boolean;
}

const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, LockedPackage> };
const nvmrc = readFileSync('.nvmrc', 'utf8').trim();

/** The oldest Node the project says it runs on: every dependency must accept it. */
const oldestSupported = semver.minVersion(manifest.engines.node)!;

describe('supported Node', () => {
  it('.nvmrc names the major of the oldest supported Node, and that major is the running one', () => {
    expect(semver.major(oldestSupported)).toBe(Number(nvmrc));
    expect(semver.satisfies(process.version, manifest.engines.node)).toBe(true);
  });

  it('every locked dependency accepts the oldest supported Node', () => {
    const refusing = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && !Array.isArray(entry.engines) && entry.engines?.node !== undefined)
      .filter(([, entry]) => !semver.satisfies(oldestSupported, (entry.engines as { node: string }).node, { includePrerelease: true }))
      .map(([path, entry]) => `${path.replace(/^.*node_modules\//, '')} wants node ${(entry.engines as { node: string }).node}`);
    expect(refusing).toEqual([]);
  });
});
