// The container files, read as a reviewer would (no container engine runs on this machine): the image
// is multi-stage, runs the compiled build as a non-root user and checks /readyz; compose wires every
// Tally role to one PostgreSQL, migrates once before the API and workers start, and passes only
// variables Tally knows (a misspelt one would be silently ignored in production).
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { envVariables } from '../src/config/index.ts';

const dockerfile = readFileSync('Dockerfile', 'utf8');
const stages = dockerfile.split(/^FROM /m).slice(1);
const runtime = stages.at(-1)!;
const compose = parse(readFileSync('compose.yaml', 'utf8')) as {
  services: Record<
    string,
    {
      command?: string[];
      environment?: Record<string, string>;
      build?: string;
      depends_on?: Record<string, { condition: string }> | string[];
      healthcheck?: { disable?: boolean };
    }
  >;
};
const tallyServices = Object.entries(compose.services).filter(([, service]) => service.build === '.');

describe('Dockerfile', () => {
  it('builds in one stage and runs the compiled build as an unprivileged user in another', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]).toMatch(/npm run build/);
    expect(stages[0]).toMatch(/npm prune --omit=dev/);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/NODE_ENV=production/);
    expect(runtime).toMatch(/^ENTRYPOINT \["node", "bin\/tally\.mjs"\]$/m);
  });

  it('copies only what exists after a build, and checks readiness at /readyz', () => {
    const copied = [...runtime.matchAll(/^COPY --from=build \/app\/(\S+)/gm)].map((m) => m[1]!);
    expect(copied).toEqual(expect.arrayContaining(['dist', 'bin', 'node_modules', 'package.json']));
    for (const path of copied) expect(existsSync(path), `${path} (run npm run build)`).toBe(true);
    expect(runtime).toMatch(/HEALTHCHECK[\s\S]*\/readyz/);
  });
});

describe('compose.yaml', () => {
  it('runs migrate, api and worker from the image, the API and workers only after the migration succeeded', () => {
    expect(Object.fromEntries(tallyServices.map(([name, service]) => [name, service.command]))).toEqual({
      migrate: ['migrate'],
      api: ['serve'],
      worker: ['worker'],
    });
    for (const name of ['api', 'worker']) {
      expect(compose.services[name]!.depends_on).toMatchObject({ migrate: { condition: 'service_completed_successfully' } });
    }
    expect(compose.services.worker!.healthcheck?.disable).toBe(true); // it serves no HTTP
  });

  it('gives every Tally process the same database and settings, named as Tally reads them', () => {
    const environments = tallyServices.map(([, service]) => service.environment!);
    for (const environment of environments) expect(environment).toEqual(environments[0]);
    const environment = environments[0]!;
    expect(new URL(environment.DATABASE_URL!.replace(/\$\{[^}]+\}/g, 'x')).hostname).toBe('postgres');
    const unknown = Object.keys(environment).filter((name) => !(name in envVariables));
    expect(unknown).toEqual([]);
    // Secrets have no defaults: compose refuses to start without them.
    for (const secret of ['JWT_SECRET', 'TALLY_FILE_SIGNING_SECRET', 'BACKGROUND_JOB_TOKEN']) expect(environment[secret]).toMatch(/^\$\{\w+:\?/);
  });
});
