import pino, { type Logger } from 'pino';
import type { Config } from './config/index.ts';

export type { Logger };

/** Never logged, wherever they appear in a logged object: keys, secrets, credentials (src/credentials). */
export const REDACT = {
  paths: [
    'apiKey',
    '*.apiKey',
    '*.*.apiKey',
    'secret',
    '*.secret',
    'authorization',
    '*.authorization',
    '*.headers.authorization',
    'encryption',
    '*.encryption',
  ],
  censor: '[redacted]',
};

/** Structured logs: pretty in a terminal, JSON lines otherwise (or as configured). */
export function createLogger(config: Pick<Config, 'log'>, destination: NodeJS.WritableStream = process.stdout): Logger {
  const pretty = config.log.format === 'pretty' || (config.log.format === 'auto' && Boolean((destination as { isTTY?: boolean }).isTTY));
  if (pretty) {
    return pino({
      level: config.log.level,
      redact: REDACT,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino({ level: config.log.level, redact: REDACT }, destination as pino.DestinationStream);
}
