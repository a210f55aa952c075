// A real HTTP server on 127.0.0.1 that serves test images (and a few things that are not images, and
// redirects), standing in for the web where users' input images live.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import zlib from 'node:zlib';

export interface ImageServer {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  png: Buffer;
  requests: string[];
  close(): Promise<void>;
}

export const testPng = (color = '#4477aa', width = 40, height = 30) =>
  sharp({ create: { width, height, channels: 3, background: color } })
    .png()
    .toBuffer();

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

/**
 * A "pixel bomb": a tiny PNG whose header declares width×height pixels (greyscale). Reading its
 * metadata is instant; decoding it would allocate and process every declared pixel.
 */
export function declaredPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale, deflate, no filter method, no interlace
  const rows = zlib.deflateSync(Buffer.alloc(64 * (width + 1)));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', rows),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
