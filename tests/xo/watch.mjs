// Xen Orchestra's XenAPI client (npm xen-api) watching a pool: what XO does on connect.
//
//   node watch.mjs URL PASSWORD
//
// Connects with the client's default transport ('auto': JSON-RPC at /jsonrpc, XML-RPC at /xmlrpc
// if that fails), fills its cache (get_all_records, then event.from in a loop) and prints one JSON
// line per thing it sees: {"ready": ...} once the cache is filled, then {"action": "add"|"update"|
// "remove", "type", "ref", "fields"} for every object its events change.  Runs until killed.
import { createClient } from 'xen-api'

const [url, password] = process.argv.slice(2)
const print = value => process.stdout.write(JSON.stringify(value) + '\n')
const FIELDS = ['name_label', 'ha_enabled', 'ha_cluster_stack', 'live', 'uuid']

const xapi = createClient({ url, auth: { user: 'root', password }, allowUnauthorized: true, debounce: 50 })
xapi.on('eventFetchingError', error => print({ eventFetchingError: String(error) }))
process.on('unhandledRejection', error => print({ unhandledRejection: String(error?.stack ?? error) }))

await xapi.connect()
await xapi.objectsFetched
const types = {}
for (const object of Object.values(xapi.objects.all)) {
  types[object.$type] = (types[object.$type] ?? 0) + 1
}
print({ ready: true, types })

for (const action of ['add', 'update', 'remove']) {
  xapi.objects.on(action, objects => {
    for (const object of Object.values(objects)) {
      const fields = {}
      for (const field of FIELDS) {
        if (object?.[field] !== undefined) fields[field] = object[field]
      }
      print({ action, type: object?.$type, ref: object?.$ref, fields })
    }
  })
}
