import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { CibleError, isCibleError } from '../errors.ts';

/** Answers a CibleError with its status, its JSON body, and the headers its code calls for. */
export function sendError(reply: FastifyReply, error: CibleError): FastifyReply {
  if (error.code === 'CIBLE_ERR_INGEST_OVERLOADED') {
    reply.header('Retry-After', '1').header('X-RateLimit-Reset', '1');
  }
  return reply.code(error.status).send(error.toJSON());
}

/** The one place where errors become HTTP answers. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((raw: FastifyError | CibleError, request, reply) => {
    return sendError(reply, toCibleError(raw, request.log));
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new CibleError(
        'CIBLE_ERR_API_NOT_FOUND',
        `No route ${request.method} ${request.url.split('?')[0] ?? ''}.`,
      ),
    ),
  );
}

function toCibleError(
  error: FastifyError | CibleError,
  log: { error: (obj: unknown, msg: string) => void },
): CibleError {
  if (isCibleError(error)) return error;
  if (error.validation !== undefined) {
    const first = error.validation[0];
    const path = [error.validationContext, ...(first?.instancePath ?? '').split('/').filter(Boolean)];
    const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
    if (missing !== undefined) path.push(missing);
    const field = path.filter(Boolean).join('.');
    return new CibleError('CIBLE_ERR_API_INVALID_REQUEST', `${field}: ${first?.message ?? 'is invalid'}.`, {
      field,
      cause: error,
    });
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new CibleError(
        'CIBLE_ERR_TRACKING_BODY_TOO_LARGE',
        'Body is larger than the server reads at all.',
        {
          cause: error,
        },
      );
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new CibleError('CIBLE_ERR_API_INVALID_REQUEST', error.message, { cause: error });
    case 'Z_DATA_ERROR':
    case 'Z_BUF_ERROR':
      return new CibleError(
        'CIBLE_ERR_TRACKING_INVALID_ENCODING',
        `Body could not be decompressed: ${error.message}.`,
        {
          cause: error,
        },
      );
    default:
      if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
        return new CibleError('CIBLE_ERR_API_INVALID_REQUEST', error.message, { cause: error });
      }
      log.error({ err: error }, 'unexpected error');
      return new CibleError('CIBLE_ERR_INTERNAL', 'Something went wrong inside Cible.', { cause: error });
  }
}
