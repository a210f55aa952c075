// The floor a gateway is measured against: a minimal node:http server doing the same durable work as
// Tally's sync /api/infer, and nothing else. One autocommitted statement debits the user, places the
// hold and writes the generation; the provider is called; the image is checked by sharp and written to
// disk; one autocommitted statement posts the hold and finishes the generation. No auth, routing,
// validation framework, logging or metrics: what is left is the least any such service must do.
// Run by bench/generations.ts as its own process:
//   DATABASE_URL=… PROVIDER_URL=… PROVIDER_KEY=… FLOOR_DIR=… PORT=… node --import tsx bench/floor.ts
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';
import pg from 'pg';
import sharp from 'sharp';

const { DATABASE_URL, PROVIDER_URL, PROVIDER_KEY, FLOOR_DIR, PORT } = process.env;
if (!DATABASE_URL || !PROVIDER_URL || !PROVIDER_KEY || !FLOOR_DIR || !PORT)
  throw new Error('DATABASE_URL, PROVIDER_URL, PROVIDER_KEY, FLOOR_DIR and PORT are required');
const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 10 });

await pool.query(`
  create table if not exists floor_balances (user_id text primary key, credits bigint not null check (credits >= 0));
  create table if not exists floor_holds (id text primary key, user_id text not null, amount bigint not null, state text not null);
  create table if not exists floor_generations (id text primary key, user_id text not null, hold_id text not null, status text not null, prompt text, result_key text);
  create table if not exists floor_spent (id int primary key, credits bigint not null);
  insert into floor_spent values (1, 0) on conflict do nothing;
  insert into floor_balances values ('floor-user', 1000000000) on conflict (user_id) do update set credits = 1000000000;`);

const HOLD = {
  name: 'floor-hold',
  text: `with debit as (update floor_balances set credits = credits - 1 where user_id = $1 and credits >= 1 returning user_id),
              hold as (insert into floor_holds (id, user_id, amount, state) select $2, user_id, 1, 'pending' from debit returning id)
         insert into floor_generations (id, user_id, hold_id, status, prompt) select $3, $1, id, 'processing', $4 from hold returning id`,
};
const SETTLE = {
  name: 'floor-settle',
  text: `with post as (update floor_holds set state = 'posted' where id = $1 and state = 'pending' returning amount),
              spent as (update floor_spent set credits = credits + (select amount from post) where id = 1)
         update floor_generations set status = 'completed', result_key = $3 where id = $2`,
};

await mkdir(path.join(FLOOR_DIR, 'floor-user'), { recursive: true });

const server = createServer(async (req, res) => {
  try {
    let body = '';
    for await (const chunk of req) body += chunk;
    const { prompt } = JSON.parse(body) as { prompt: string };
    const id = randomUUID();
    const hold = `hold-${id}`;
    const held = await pool.query({ ...HOLD, values: ['floor-user', hold, id, prompt] });
    if (held.rowCount !== 1) return void res.writeHead(402).end();
    const answer = await fetch(`${PROVIDER_URL}/v1beta/models/gemini-2.5-flash-image:generateContent`, {
      method: 'POST',
      headers: { 'x-goog-api-key': PROVIDER_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ parts: [{ text: prompt }] }], generationConfig: { responseModalities: ['TEXT', 'IMAGE'] } }),
    });
    const parts = ((await answer.json()) as { candidates: { content: { parts: Record<string, { data?: string } | undefined>[] } }[] }).candidates[0]!.content
      .parts;
    const image = Buffer.from(parts.map((p) => p.inlineData?.data ?? p.inline_data?.data).find(Boolean)!, 'base64');
    const metadata = await sharp(image, { limitInputPixels: 50_000_000 }).metadata();
    if (!metadata.format) return void res.writeHead(502).end();
    const key = `floor-user/${id}.${metadata.format}`;
    await writeFile(path.join(FLOOR_DIR, key), image);
    await pool.query({ ...SETTLE, values: [hold, id, key] });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ generationId: id, status: 'success', url: key }));
  } catch (error) {
    res.writeHead(500).end(String(error));
  }
});
server.listen(Number(PORT), '127.0.0.1', () => console.log('floor listening'));
