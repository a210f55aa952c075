// Which routes this server has, read once from its own OpenAPI document. Sections built for routes
// that other work adds later (alert acknowledgement, the purchases list, …) ask here first and say
// "not available on this server" instead of calling a route that is not there.
export type Capabilities = ReadonlySet<string>;

export async function loadCapabilities(): Promise<Capabilities> {
  const response = await fetch('/openapi.json', { headers: { accept: 'application/json' } });
  if (!response.ok) return new Set();
  const document = (await response.json()) as { paths?: Record<string, Record<string, unknown>> };
  const routes = new Set<string>();
  for (const [path, operations] of Object.entries(document.paths ?? {})) {
    for (const method of Object.keys(operations)) routes.add(`${method.toUpperCase()} ${path}`);
  }
  return routes;
}
