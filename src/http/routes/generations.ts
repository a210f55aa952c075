// Generations for end users (docs/compatibility.md): submit an enhancement (JSON with an image URL, or multipart with
// an uploaded image), poll a task or list recent ones, and the sync /api/infer. /v1 equivalents call
// the same domain functions.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { SubmitInput, Task } from '../../generations/index.ts';
import { ENHANCEMENT_TYPES } from '../../providers/local/adjust.ts';
import { currentUserId, guard } from '../access.ts';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { json, problems } from '../schemas.ts';

export const TaskBody = z
  .object({
    id: z.string(),
    status: z.enum(['queued', 'processing', 'completed', 'failed']),
    resultUrl: z.string().nullable().openapi({ description: 'A signed link to the stored result, valid for a limited time' }),
    errorMessage: z.string().nullable(),
    errorCode: z.string().nullable(),
    provider: z.string().nullable(),
    degraded: z.boolean().openapi({ description: 'Every AI provider failed: a basic local adjustment, free of charge' }),
    degradedReason: z.string().nullable(),
    cssFilter: z.string().nullable().openapi({ description: 'When degraded: the CSS filter equivalent to the local adjustment' }),
    creditsCharged: z.number().int().openapi({ description: 'Held while running; what was paid once ended (0 when refunded or degraded)' }),
    modelId: z.string(),
    enhancementType: z.string().nullable(),
    prompt: z.string(),
    createdAt: z.string(),
    completedAt: z.string().nullable(),
  })
  .openapi('Task');

const enhancementType = z.enum(ENHANCEMENT_TYPES);
const prompt = z.string().max(5000, 'must be at most 5000 characters');
const strength = z.coerce.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');
const imageUrl = z
  .string()
  .max(2048)
  .url('must be an http(s) URL')
  .refine((v) => /^https?:\/\//i.test(v), 'must be an http(s) URL');

const EnhanceJson = z
  .object({
    inputImageUrl: imageUrl.optional(),
    enhancementType,
    prompt: prompt.optional(),
    strength: strength.optional(),
    moodboardId: z.string().max(200).optional(),
  })
  .openapi('EnhanceRequest');
const EnhanceForm = z
  .object({
    image: z
      .instanceof(File)
      .optional()
      .openapi({ type: 'string', format: 'binary', description: 'The input image (JPEG, PNG, WebP, GIF, AVIF, TIFF; checked by content)' }),
    inputImageUrl: imageUrl.optional(),
    enhancementType,
    prompt: prompt.optional(),
    strength: strength.optional(),
    moodboardId: z.string().max(200).optional(),
  })
  .openapi('EnhanceUpload');
const V1Json = EnhanceJson.extend({ enhancementType: enhancementType.optional(), modelId: z.string().max(64).optional(), prompt: prompt.optional() }).openapi(
  'GenerationRequest',
);
const V1Form = EnhanceForm.extend({ enhancementType: enhancementType.optional(), modelId: z.string().max(64).optional() }).openapi('GenerationUpload');

const Accepted = z
  .object({ taskId: z.string(), status: z.literal('queued'), creditsCharged: z.number().int(), remainingBalance: z.number().int() })
  .openapi('EnhanceAccepted');
const submitProblems = problems(400, 401, 402, 403, 404, 413, 415, 429, 503);

const compatSubmit = createRoute({
  method: 'post',
  path: '/api/enhance-image',
  tags: ['generations'],
  summary: 'Submit an enhancement; answers at once with a task id to poll (402 when the user cannot pay)',
  ...guard('user'),
  // Not `required`: with two media types the validator must run only for the one that was sent.
  request: {
    body: {
      required: false,
      description: 'JSON with an image URL, or multipart with an uploaded image',
      content: { 'application/json': { schema: EnhanceJson }, 'multipart/form-data': { schema: EnhanceForm } },
    },
  },
  responses: { 202: json(Accepted, 'Queued; the credit is held'), ...submitProblems },
});
const compatRead = createRoute({
  method: 'get',
  path: '/api/enhance-image',
  tags: ['generations'],
  summary: 'One task by `taskId`, or the caller’s recent tasks (newest first)',
  ...guard('user'),
  request: {
    query: z.object({
      taskId: z
        .string()
        .max(100)
        .optional()
        .openapi({ param: { name: 'taskId', in: 'query' } }),
      limit: z.coerce
        .number()
        .int()
        .min(1)
        .max(100)
        .default(10)
        .openapi({ param: { name: 'limit', in: 'query' } }),
    }),
  },
  responses: {
    200: json(z.union([z.object({ task: TaskBody }), z.object({ tasks: z.array(TaskBody) })]), 'The task, or the list'),
    ...problems(400, 401, 403, 404, 429),
  },
});
const v1Submit = createRoute({
  method: 'post',
  path: '/v1/generations',
  tags: ['generations'],
  summary: 'Submit a generation (a catalogue model, or an enhancement type’s default model)',
  ...guard('user'),
  request: {
    body: {
      required: false,
      description: 'JSON with an image URL, or multipart with an uploaded image',
      content: { 'application/json': { schema: V1Json }, 'multipart/form-data': { schema: V1Form } },
    },
  },
  responses: {
    202: json(z.object({ task: TaskBody, remainingBalance: z.number().int() }).openapi('GenerationAccepted'), 'Queued; the credit is held'),
    ...submitProblems,
  },
});
const v1Get = createRoute({
  method: 'get',
  path: '/v1/generations/{id}',
  tags: ['generations'],
  summary: 'One of the caller’s generations',
  ...guard('user'),
  request: {
    params: z.object({
      id: z
        .string()
        .max(100)
        .openapi({ param: { name: 'id', in: 'path' } }),
    }),
  },
  responses: { 200: json(TaskBody, 'The generation'), ...problems(400, 401, 403, 404, 429) },
});
const v1List = createRoute({
  method: 'get',
  path: '/v1/generations',
  tags: ['generations'],
  summary: 'The caller’s recent generations, newest first',
  ...guard('user'),
  request: {
    query: z.object({
      limit: z.coerce
        .number()
        .int()
        .min(1)
        .max(100)
        .default(10)
        .openapi({ param: { name: 'limit', in: 'query' } }),
    }),
  },
  responses: { 200: json(z.object({ tasks: z.array(TaskBody) }), 'Generations'), ...problems(400, 401, 403, 429) },
});

const InferRequest = z
  .object({
    modelId: z.string().min(1).max(64),
    inputs: z.object({ prompt: prompt.min(1, 'is required'), imageUrl: imageUrl.optional(), image_urls: z.array(imageUrl).max(1).optional() }),
    params: z.record(z.string(), z.unknown()).default({}),
  })
  .openapi('InferRequest');
const InferBody = z
  .object({
    generationId: z.string(),
    status: z.literal('success'),
    url: z.string(),
    creditsUsed: z.number().int(),
    balance: z.number().int(),
    degraded: z.boolean(),
  })
  .openapi('InferResult');
const infer = createRoute({
  method: 'post',
  path: '/api/infer',
  tags: ['generations'],
  summary: 'Generate and wait: 502 when the providers failed, 504 (with the id to poll) when not finished in time',
  ...guard('user'),
  request: { body: { required: true, content: { 'application/json': { schema: InferRequest } } } },
  responses: { 200: json(InferBody, 'The stored result'), ...problems(400, 401, 402, 403, 404, 413, 415, 429, 502, 503, 504) },
});
const v1Infer = createRoute({ ...infer, path: '/v1/infer' });

export function registerGenerationRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(compatSubmit, async (c) => {
    const { task, remainingBalance } = await c.get('deps').generations.submit(await submission(c));
    return c.json({ taskId: task.id, status: 'queued' as const, creditsCharged: task.creditsCharged, remainingBalance }, 202);
  });
  app.openapi(v1Submit, async (c) => c.json(await c.get('deps').generations.submit(await submission(c)), 202));

  app.openapi(compatRead, async (c) => {
    const { taskId, limit } = c.req.valid('query');
    const { generations } = c.get('deps');
    if (taskId) return c.json({ task: await generations.get(currentUserId(c), taskId) }, 200);
    return c.json({ tasks: await generations.list(currentUserId(c), limit) }, 200);
  });
  app.openapi(v1Get, async (c) => c.json(await c.get('deps').generations.get(currentUserId(c), c.req.valid('param').id), 200));
  app.openapi(v1List, async (c) => c.json({ tasks: await c.get('deps').generations.list(currentUserId(c), c.req.valid('query').limit) }, 200));

  for (const route of [infer, v1Infer]) {
    app.openapi(route, async (c) => {
      const body = c.req.valid('json');
      const { generations, config } = c.get('deps');
      const userId = currentUserId(c);
      const { row, finished, remainingBalance } = await generations.submitAndWait(
        { userId, modelId: body.modelId, prompt: body.inputs.prompt, inputUrl: body.inputs.imageUrl ?? body.inputs.image_urls?.[0], params: body.params },
        config.generations.syncWaitSeconds * 1000,
      );
      if (!finished)
        throw new ApiError('gateway_timeout', `The generation is still running; poll GET /v1/generations/${row.id}.`, { extra: { generationId: row.id } });
      const task = await generations.present(row);
      if (task.status !== 'completed' || !task.resultUrl)
        throw new ApiError('bad_gateway', task.errorMessage ?? 'The providers could not complete the generation.', { extra: { generationId: row.id } });
      // Charged as held: the balance is what the hold left. Refunded (degraded): read it again.
      const balance = task.creditsCharged === row.credits_held ? remainingBalance : (await c.get('deps').credits.balance(userId)).balance;
      return c.json(
        { generationId: task.id, status: 'success' as const, url: task.resultUrl, creditsUsed: task.creditsCharged, balance, degraded: task.degraded },
        200,
      );
    });
  }
}

/** The submit body, JSON or multipart, as the domain's input. */
async function submission(c: Context<AppEnv>): Promise<SubmitInput> {
  const type = c.req.header('content-type') ?? '';
  const valid = (target: 'json' | 'form') => (c.req.valid as (t: 'json' | 'form') => z.infer<typeof V1Form>).call(c.req, target);
  const body = /multipart\/form-data/i.test(type) ? valid('form') : valid('json');
  if (!body.enhancementType && !body.modelId)
    throw new ApiError('validation_failed', 'give an enhancementType or a modelId', {
      errors: [{ path: 'body.enhancementType', message: 'required when modelId is not given' }],
    });
  const upload = body.image ? Buffer.from(await body.image.arrayBuffer()) : undefined;
  if (upload && body.inputImageUrl)
    throw new ApiError('validation_failed', 'give either an uploaded image or inputImageUrl, not both', {
      errors: [{ path: 'body.image', message: 'not with inputImageUrl' }],
    });
  return {
    userId: currentUserId(c),
    modelId: body.modelId,
    enhancementType: body.enhancementType,
    prompt: body.prompt ?? defaultPrompt(body.enhancementType),
    strength: body.strength,
    inputUrl: body.inputImageUrl,
    upload,
    moodboardId: body.moodboardId,
  };
}

function defaultPrompt(type: string | undefined): string {
  return type ? `Enhance the ${type} of this image` : '';
}

export type { Task };
