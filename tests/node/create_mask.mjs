#!/usr/bin/env node
// One mask through the official Adobe SDK against `maskflow emulate` (or the real service).
// env: EMULATOR_URL CLIENT_ID CLIENT_SECRET INPUT_URL OUTPUT_URL [API_KEY=CLIENT_ID] [ORG_ID] [TIMEOUT_MS=120000]
// stdout: the job's final JSON. Exit 0 iff the job's single output succeeded.
import { requireEnv, fetchToken, initSdk, maskRequest } from './sdk_client.mjs'

const env = requireEnv('EMULATOR_URL', 'CLIENT_ID', 'CLIENT_SECRET', 'INPUT_URL', 'OUTPUT_URL')
// The SDK polls forever (2 s apart, no deadline); give up ourselves.
const timeoutMs = Number(process.env.TIMEOUT_MS || 120000)
setTimeout(() => { console.error(`timed out after ${timeoutMs} ms`); process.exit(3) }, timeoutMs).unref()

try {
  const token = await fetchToken(env.EMULATOR_URL, env.CLIENT_ID, env.CLIENT_SECRET)
  const client = await initSdk(env.EMULATOR_URL, process.env.API_KEY || env.CLIENT_ID, token)
  // createMask(input, output) already polls until done (src/index.js: `return await job.pollUntilDone()`);
  // the second call returns at once because the job is done.
  const job = await client.createMask(...maskRequest(env.INPUT_URL, env.OUTPUT_URL))
  await job.pollUntilDone()
  console.log(JSON.stringify(job)) // url, jobId, outputs[], _links: no credentials in it
  const ok = job.outputs.length === 1 && job.outputs[0].status === 'succeeded'
  process.exit(ok ? 0 : 1)
} catch (err) {
  console.error(`create_mask: ${err.message || err}`)
  process.exit(1)
}
