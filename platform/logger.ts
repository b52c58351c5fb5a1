/** One pino logger per process. Secrets and PII must never be logged: redact the usual suspects. */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, level = process.env.LOG_LEVEL || 'info'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['password', '*.password', 'clientSecret', '*.clientSecret', 'authorization', '*.authorization', 'req.headers.authorization', 'payloadKey'],
      censor: '[redacted]',
    },
  });
}
