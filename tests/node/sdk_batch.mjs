#!/usr/bin/env node
// Benchmark driver: N masks through the official Adobe SDK the way its API drives them, strictly one
// createMask (which submits and then polls every 2 s until done) after the other.
// env: EMULATOR_URL CLIENT_ID CLIENT_SECRET INPUT_URLS_FILE (one URL per line)
//      OUTPUT_URL_TEMPLATE ('{i}' = 0-based line index) [API_KEY=CLIENT_ID] [ORG_ID]
// stdout: one line {"images":N,"seconds":S,"succeeded":k,"failed":f}; seconds covers the N jobs, not the token.
import { readFileSync } from 'node:fs'
import { requireEnv, fetchToken, initSdk, maskRequest } from './sdk_client.mjs'

const env = requireEnv('EMULATOR_URL', 'CLIENT_ID', 'CLIENT_SECRET', 'INPUT_URLS_FILE', 'OUTPUT_URL_TEMPLATE')
const inputs = readFileSync(env.INPUT_URLS_FILE, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean)

const token = await fetchToken(env.EMULATOR_URL, env.CLIENT_ID, env.CLIENT_SECRET)
const client = await initSdk(env.EMULATOR_URL, process.env.API_KEY || env.CLIENT_ID, token)

let succeeded = 0
let failed = 0
const start = process.hrtime.bigint()
for (const [i, inputUrl] of inputs.entries()) {
  const outputUrl = env.OUTPUT_URL_TEMPLATE.replaceAll('{i}', String(i))
  try {
    const job = await client.createMask(...maskRequest(inputUrl, outputUrl))
    await job.pollUntilDone() // no-op: createMask returns a finished job
    if (job.outputs.length === 1 && job.outputs[0].status === 'succeeded') succeeded++
    else { failed++; console.error(`image ${i}: ${JSON.stringify(job.outputs)}`) }
  } catch (err) {
    failed++
    console.error(`image ${i}: ${err.message || err}`)
  }
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9
console.log(JSON.stringify({ images: inputs.length, seconds: Number(seconds.toFixed(3)), succeeded, failed }))
process.exit(failed ? 1 : 0)
