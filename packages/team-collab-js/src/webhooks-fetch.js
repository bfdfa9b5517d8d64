// keel:platform/outbound-webhooks on `fetch` and WebCrypto: the same
// messages the Spin component (platform/webhooks) sends, signed as the
// Standard Webhooks specification says (`webhook-id`, `webhook-timestamp`,
// `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`).
// Deny by default, like Spin's `allowed_outbound_hosts`: only URLs whose
// origin is listed are reached.

/** A WIT `error` variant, thrown the way jco expects a host error. */
function failure(tag, val) {
  return Object.assign(new Error(typeof val === 'string' ? val : tag), { payload: { tag, val } });
}

const DETAIL_BYTES = 256;

/**
 * @param {object} [options]
 * @param {string[]} [options.allowedOrigins] origins (`https://hooks.example.com`) the app may call
 * @param {number} [options.timeoutMs] how long a receiver has to answer (10 s)
 * @param {typeof fetch} [options.fetch]
 */
export function fetchWebhooks({ allowedOrigins = [], timeoutMs = 10_000, fetch: send = globalThis.fetch } = {}) {
  const allowed = new Set(allowedOrigins.map((origin) => new URL(origin).origin));
  return {
    async deliver({ url, secret, id, timestamp, payload }) {
      let target;
      try {
        target = new URL(url);
      } catch {
        throw failure('invalid', `${url} is not a URL`);
      }
      if (!allowed.has(target.origin)) {
        throw failure('not-allowed', `${url} is not in the allowed origins`);
      }
      const signature = await sign(secret, `${id}.${timestamp}.${payload}`);
      let answer;
      try {
        answer = await send(target, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'webhook-id': id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signature,
          },
          body: payload,
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw failure('unreachable', `cannot reach ${url}: ${err?.message ?? err}`);
      }
      if (answer.status >= 200 && answer.status < 300) return answer.status;
      const detail = (await answer.text().catch(() => '')).slice(0, DETAIL_BYTES);
      throw failure('rejected', { status: answer.status, detail });
    },
  };
}

async function sign(secret, text) {
  const encoded = typeof secret === 'string' && secret.startsWith('whsec_') ? secret.slice(6) : '';
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0) throw failure('invalid', 'a signing secret is `whsec_` and the base64 of a key');
  const hmac = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', hmac, new TextEncoder().encode(text));
  return `v1,${Buffer.from(mac).toString('base64')}`;
}
