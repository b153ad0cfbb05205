// Container health probe: `node deploy/probe.mjs <path> [port]` exits 0 when GET http://127.0.0.1:<port><path>
// answers 2xx within 4 s, 1 otherwise; the image has no curl or wget. The port, unless given, is the
// one the process serves its probes on (docs/deploy.md, "Probes"): HEALTH_PORT for a relay or projector
// (no API, so no HTTP server but the probes'), PORT for the others.
const path = process.argv[2] ?? '/healthz';
const probesOnHealthPort = ['relay', 'projector'].includes(process.env.ROLE?.trim().toLowerCase() ?? '') && process.env.HEALTH_PORT?.trim();
const port = process.argv[3] ?? (probesOnHealthPort ? process.env.HEALTH_PORT.trim() : process.env.PORT?.trim() || '4000');

try {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(4000) });
  if (!response.ok) console.error(`${path}: HTTP ${response.status} ${await response.text().catch(() => '')}`);
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  console.error(`${path}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
