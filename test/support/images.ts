// A real HTTP server on 127.0.0.1 that serves test images (and a few things that are not images, and
// redirects), standing in for the web where users' input images live.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';

export interface ImageServer {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  png: Buffer;
  requests: string[];
  close(): Promise<void>;
}

export const testPng = (color = '#4477aa', width = 40, height = 30) => sharp({ create: { width, height, channels: 3, background: color } }).png().toBuffer();

export async function startImageServer(): Promise<ImageServer> {
  const png = await testPng();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push(url.pathname + url.search);
    if (url.pathname === '/photo.png') return void res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    // Claims to be an image; is not.
    if (url.pathname === '/fake.png') return void res.writeHead(200, { 'content-type': 'image/png' }).end('this is plain text, not a PNG');
    if (url.pathname === '/redirect') return void res.writeHead(302, { location: url.searchParams.get('to') ?? '/photo.png' }).end();
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    png,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
