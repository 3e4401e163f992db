// Shared by create_mask.mjs and sdk_batch.mjs: IMS token + the official SDK pointed at an emulator.
import photoshop from '@adobe/aio-lib-photoshop-api' // CommonJS package: default import = module.exports

export function requireEnv (...names) {
  const missing = names.filter((n) => !process.env[n])
  if (missing.length) {
    console.error(`missing environment variable(s): ${missing.join(', ')}`)
    process.exit(2)
  }
  return Object.fromEntries(names.map((n) => [n, process.env[n]]))
}

// OAuth server-to-server token, as Adobe IMS issues it (form body, client_credentials).
export async function fetchToken (baseUrl, clientId, clientSecret) {
  const res = await fetch(`${baseUrl}/ims/token/v3`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      scope: 'openid,AdobeID,read_organizations'
    })
  })
  if (!res.ok) throw new Error(`token request failed: HTTP ${res.status} ${await res.text()}`)
  const { access_token: token } = await res.json()
  if (!token) throw new Error('token response has no access_token')
  return token
}

// init(orgId, apiKey, accessToken) is the SDK's documented entry point. It has no base-URL option,
// env var or spec URL: operations are built from the OpenAPI 3 `servers` list of the swagger-client
// instance it keeps in `client.sdk`, and swagger-client 3.9.6 reads `client.sdk.spec` at call time,
// so replacing `servers` after init redirects every POST (createMask -> `${baseUrl}/sensei/mask`).
// Status polls need nothing: the SDK GETs the `_links.self.href` the server returned, as-is.
export async function initSdk (baseUrl, apiKey, accessToken, orgId = process.env.ORG_ID || 'maskflow-emulator@AdobeOrg') {
  const client = await photoshop.init(orgId, apiKey, accessToken)
  client.sdk.spec.servers = [{ url: baseUrl.replace(/\/+$/, '') }]
  return client
}

// The request the docs show: external storage both ways, soft mask.
export function maskRequest (inputUrl, outputUrl) {
  return [
    { href: inputUrl, storage: 'external' },
    { href: outputUrl, storage: 'external', mask: { format: 'soft' } }
  ]
}
