// node --test: the official Adobe SDK (@adobe/aio-lib-photoshop-api) against an emulator.
// EMULATOR_CMD: the command that starts the emulator and prints its emulator_listening JSON
//   line first, e.g. `target/debug/maskflow emulate --format json --port 0 --latency 1s`
//   (tests/node_sdk.rs sets it to the binary under test).
// PHOTO: input image (default: examples/photos/chelsea.png of the repository around this folder).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFile } from 'node:child_process'
import { once } from 'node:events'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { startStorage } from './storage.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
if (!process.env.EMULATOR_CMD) throw new Error('set EMULATOR_CMD to `maskflow emulate --format json --port 0 ...`')
const cmd = process.env.EMULATOR_CMD.split(/\s+/)
const photo = process.env.PHOTO || [path.join(here, '../../examples/photos/chelsea.png'), path.join(here, '../examples/photos/chelsea.png')].find(existsSync)
const PNG_MAGIC = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10])

let emulator, info, storage, root

before(async () => {
  assert.ok(photo, 'set PHOTO to an input image')
  root = mkdtempSync(path.join(tmpdir(), 'maskflow-node-sdk-'))
  mkdirSync(path.join(root, 'in'))
  copyFileSync(photo, path.join(root, 'in', 'photo' + path.extname(photo)))
  storage = await startStorage(root)
  emulator = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
  const [line] = await once(createInterface({ input: emulator.stdout }), 'line')
  info = JSON.parse(line)
  assert.equal(info.event, 'emulator_listening')
})

after(() => {
  emulator?.kill()
  storage?.server.close()
  if (root) rmSync(root, { recursive: true, force: true })
})

const stats = async () => (await fetch(`${info.base_url}/_emulator/stats`)).json()
const inputUrl = () => `${storage.baseUrl}/in/photo${path.extname(photo)}`
function run (script, extraEnv) {
  const env = { ...process.env, EMULATOR_URL: info.base_url, CLIENT_ID: info.client_id, CLIENT_SECRET: info.client_secret, API_KEY: info.api_key, ...extraEnv }
  return new Promise((resolve) => execFile(process.execPath, [path.join(here, script)], { env, timeout: 120000 },
    (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr })))
}
// /_emulator/stats: `submissions` counts accepted POST /sensei/mask; `duplicate_submissions` (real emulator only)
// counts repeats of an identical body, which the SDK's POST retry could cause.
const submissions = (s) => { assert.equal(s.duplicate_submissions ?? 0, 0); return s.submissions }

test('create_mask.mjs: one SDK createMask -> one submission, a PNG PUT to the output URL', async () => {
  const before = submissions(await stats())
  const r = await run('create_mask.mjs', { INPUT_URL: inputUrl(), OUTPUT_URL: `${storage.baseUrl}/out/single.png` })
  assert.equal(r.code, 0, r.stderr)
  const job = JSON.parse(r.stdout)
  assert.equal(job.outputs.length, 1)
  assert.equal(job.outputs[0].status, 'succeeded')
  assert.ok(job.jobId, 'jobId/jobID in the status body')
  assert.ok(!r.stdout.includes(info.client_secret), 'no secret on stdout')
  assert.deepEqual(readFileSync(path.join(root, 'out/single.png')).subarray(0, 8), PNG_MAGIC)
  assert.equal(storage.log.filter((e) => e.method === 'PUT' && e.path === '/out/single.png').length, 1)
  assert.equal(submissions(await stats()) - before, 1)
})

test('create_mask.mjs: unreachable input -> non-zero exit', async () => {
  const r = await run('create_mask.mjs', { INPUT_URL: `${storage.baseUrl}/in/missing.png`, OUTPUT_URL: `${storage.baseUrl}/out/missing.png` })
  assert.notEqual(r.code, 0)
  assert.ok(!existsSync(path.join(root, 'out/missing.png')))
})

test('sdk_batch.mjs: sequential jobs, one submission each', async () => {
  const before = submissions(await stats())
  const list = path.join(root, 'inputs.txt')
  writeFileSync(list, `${inputUrl()}\n${inputUrl()}\n${inputUrl()}\n`)
  const r = await run('sdk_batch.mjs', { INPUT_URLS_FILE: list, OUTPUT_URL_TEMPLATE: `${storage.baseUrl}/out/batch-{i}.png` })
  assert.equal(r.code, 0, r.stderr)
  const result = JSON.parse(r.stdout.trim())
  assert.deepEqual({ ...result, seconds: undefined }, { images: 3, seconds: undefined, succeeded: 3, failed: 0 })
  assert.ok(result.seconds >= 6, 'the SDK sleeps 2 s before each poll, so >= 2 s per image')
  for (const i of [0, 1, 2]) assert.deepEqual(readFileSync(path.join(root, `out/batch-${i}.png`)).subarray(0, 8), PNG_MAGIC)
  assert.equal(submissions(await stats()) - before, 3)
})
