// Operations routes: alerts (list, acknowledge), jobs (list, run now) for admins, and the job-token
// trigger POST /api/background/{name} for external schedulers. Thin: parse, call alerts/jobs, answer.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { JOB_NAMES } from '../../config/ops.ts';
import type { RunResult } from '../../jobs/index.ts';
import { guard } from '../access.ts';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { json, problems } from '../schemas.ts';

const adminProblems = problems(400, 401, 403, 429);

export const AlertBody = z
  .object({
    id: z.string(),
    type: z.string(),
    subject: z.string().openapi({ description: 'What the condition is about (a pool, a provider, a job); one alert per type and subject until it clears' }),
    level: z.enum(['info', 'warning', 'critical']),
    message: z.string(),
    data: z.record(z.string(), z.unknown()),
    occurrences: z.number().int().openapi({ description: 'How many times the condition was seen while this alert was active' }),
    createdAt: z.string(),
    lastSeenAt: z.string(),
    acknowledgedAt: z.string().nullable(),
    resolvedAt: z.string().nullable(),
  })
  .openapi('Alert');

const AlertQuery = z.object({
  open: z.enum(['true', 'false']).optional().openapi({ description: 'true: neither acknowledged nor resolved (the default); false: acknowledged or resolved' }),
  level: z.enum(['info', 'warning', 'critical']).optional(),
  type: z
    .string()
    .regex(/^[a-z_]{1,64}$/)
    .optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});

const compatAlerts = createRoute({
  method: 'get',
  path: '/api/admin/alerts',
  tags: ['admin'],
  summary: 'Open alerts, newest first, as a bare array (the original dashboard reads alerts.length / alerts.map)',
  ...guard('admin'),
  responses: { 200: json(z.array(AlertBody), 'Open alerts'), ...adminProblems },
});

const v1Alerts = createRoute({
  method: 'get',
  path: '/v1/admin/alerts',
  tags: ['admin'],
  summary: 'Alerts, newest first (default: open ones), filtered by level and type',
  ...guard('admin'),
  request: { query: AlertQuery },
  responses: { 200: json(z.object({ alerts: z.array(AlertBody) }), 'Alerts'), ...adminProblems },
});

const ackAlert = createRoute({
  method: 'post',
  path: '/v1/admin/alerts/{id}/ack',
  tags: ['admin'],
  summary: 'Acknowledge an alert: it leaves the open list and gets no reminders (its recovery is still sent)',
  ...guard('admin'),
  request: {
    params: z.object({
      id: z
        .string()
        .regex(/^alert_[A-Za-z0-9]{1,64}$/)
        .openapi({ param: { name: 'id', in: 'path' } }),
    }),
  },
  responses: { 200: json(AlertBody, 'The acknowledged alert'), ...adminProblems, ...problems(404) },
});

const JobRunBody = z
  .object({
    id: z.string(),
    name: z.string(),
    trigger: z.enum(['schedule', 'cli', 'http']),
    scheduledFor: z.string().nullable(),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    outcome: z.enum(['succeeded', 'failed', 'abandoned']).nullable(),
    summary: z.record(z.string(), z.unknown()).nullable(),
    error: z.string().nullable(),
  })
  .openapi('JobRun');

const jobs = createRoute({
  method: 'get',
  path: '/v1/admin/jobs',
  tags: ['jobs'],
  summary: 'Every scheduled job: schedule, last run, next run',
  ...guard('admin'),
  responses: {
    200: json(
      z.object({
        jobs: z.array(
          z.object({
            name: z.string(),
            schedule: z.string(),
            description: z.string(),
            enabled: z.boolean(),
            // A union, not .nullable(): on a named schema that renders as allOf [JobRun, object|null], which null fails.
            lastRun: z.union([JobRunBody, z.null()]),
            nextRunAt: z.string().nullable(),
          }),
        ),
      }),
      'Jobs',
    ),
    ...adminProblems,
  },
});

const JobParam = z.object({ name: z.enum(JOB_NAMES).openapi({ param: { name: 'name', in: 'path' } }) });
const runResponses = { 200: json(z.object({ run: JobRunBody }), 'The finished run (outcome failed carries its error)'), ...problems(400, 401, 403, 409, 429) };

const runJob = createRoute({
  method: 'post',
  path: '/v1/admin/jobs/{name}/run',
  tags: ['jobs'],
  summary: 'Run a job now and wait for it; 409 while another run of it is unfinished anywhere',
  ...guard('admin'),
  request: { params: JobParam },
  responses: runResponses,
});

const backgroundJob = createRoute({
  method: 'post',
  path: '/api/background/{name}',
  tags: ['jobs'],
  summary: 'Run a job now with the job token (for an external scheduler); 409 while it is already running',
  ...guard('job'),
  request: { params: JobParam },
  responses: runResponses,
});

function answer(result: RunResult | undefined, name: string) {
  if (!result) throw new ApiError('not_found', `no job ${name}`);
  if (!result.ran) throw new ApiError('conflict', `job ${name} is already running; see GET /v1/admin/jobs`);
  return { run: result.run };
}

export function registerAdminOpsRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(compatAlerts, async (c) => c.json(await c.get('deps').alerts.list({ open: true }), 200));
  app.openapi(v1Alerts, async (c) => {
    const query = c.req.valid('query');
    return c.json({ alerts: await c.get('deps').alerts.list({ ...query, open: query.open !== 'false' }) }, 200);
  });
  app.openapi(ackAlert, async (c) => {
    const alert = await c.get('deps').alerts.acknowledge(c.req.valid('param').id);
    if (!alert) throw new ApiError('not_found', `no alert ${c.req.valid('param').id}`);
    return c.json(alert, 200);
  });
  app.openapi(jobs, async (c) => c.json({ jobs: await c.get('deps').jobs.list() }, 200));
  app.openapi(runJob, async (c) => {
    const { name } = c.req.valid('param');
    return c.json(answer(await c.get('deps').jobs.run(name, { trigger: 'http' }), name), 200);
  });
}

/** Registered after /api/background/process-tasks, which keeps its own answer. */
export function registerBackgroundJobRoute(app: OpenAPIHono<AppEnv>) {
  app.openapi(backgroundJob, async (c) => {
    const { name } = c.req.valid('param');
    return c.json(answer(await c.get('deps').jobs.run(name, { trigger: 'http' }), name), 200);
  });
}
