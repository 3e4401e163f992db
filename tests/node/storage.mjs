// "Pre-signed URL" storage on 127.0.0.1 for the SDK test: GET serves files under ROOT, PUT writes them.
// Run: node storage.mjs ROOT  -> first stdout line {"event":"storage_listening","base_url":...}
import http from 'node:http'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

export function startStorage (root, port = 0) {
  root = path.resolve(root)
  const log = [] // {method, path, status, bytes, contentType}
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname)
    const file = path.join(root, path.normalize(rel))
    const done = (status, bytes = 0) => {
      log.push({ method: req.method, path: rel, status, bytes, contentType: req.headers['content-type'] })
      res.writeHead(status).end()
    }
    if (!file.startsWith(root + path.sep)) return done(403)
    if (req.method === 'GET') {
      let data
      try { data = readFileSync(file) } catch { return done(404) }
      log.push({ method: 'GET', path: rel, status: 200, bytes: data.length })
      return res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(data)
    }
    if (req.method === 'PUT') {
      const chunks = []
      req.on('data', (c) => chunks.push(c))
      req.on('end', () => {
        const data = Buffer.concat(chunks)
        mkdirSync(path.dirname(file), { recursive: true })
        writeFileSync(file, data)
        done(200, data.length)
      })
      return
    }
    done(405)
  })
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => {
    resolve({ server, log, baseUrl: `http://127.0.0.1:${server.address().port}` })
  }))
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { baseUrl } = await startStorage(process.argv[2] || '.')
  console.log(JSON.stringify({ event: 'storage_listening', base_url: baseUrl }))
}
