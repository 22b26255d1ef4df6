// pocketbase-resume: lets the unmodified PocketBase JS SDK resume its realtime stream.
//
//   <script src="/_realtime/pocketbase-resume.js"></script>   <!-- before the SDK -->
//   <script src="pocketbase.umd.js"></script>
//
// The SDK opens a new EventSource on every reconnect, so the browser never sends
// Last-Event-ID and a server keeping history cannot tell what was missed. This wraps the
// global EventSource: a stream to /api/realtime opened after another carries the id of the
// last event seen as ?lastEventId=, and the server sends what was missed before any live
// message, after the SDK's subscription POST, to the callbacks the SDK already has. When the
// server cannot tell (a PB_RESYNC event), `pb.realtime.subscribe("PB_RESYNC", fn)` hears it:
// its data is {"topics": [...]}, the topics whose state the page should reload.
;(function (global) {
  'use strict'
  var Native = global.EventSource
  if (!Native || Native.resumesRealtime) return
  var ENDPOINT = /\/api\/realtime(\?|$)/
  var lastId = null // the id of the last event seen on any stream to the endpoint

  function Resuming(url, init) {
    var href = String(url)
    var realtime = ENDPOINT.test(href.split('#')[0])
    if (realtime && lastId) {
      href += (href.indexOf('?') >= 0 ? '&' : '?') + 'lastEventId=' + encodeURIComponent(lastId)
    }
    var es = new Native(href, init)
    if (!realtime) return es
    var note = function (e) { if (e.lastEventId) lastId = e.lastEventId }
    var noted = new Set()
    var add = es.addEventListener.bind(es)
    // Events reach listeners by name only: note the ids of every name the SDK listens to,
    // but PB_CONNECT's. A new stream's PB_CONNECT comes before what it missed: taking its id
    // would skip that, were this stream lost too before its subscription landed.
    es.addEventListener = function (name, listener, options) {
      if (name !== 'PB_CONNECT' && !noted.has(name)) {
        noted.add(name)
        add(name, note)
      }
      return add(name, listener, options)
    }
    add('PB_CONNECT', function (e) { if (!lastId) note(e) }) // nothing seen yet: resume from here
    return es
  }
  Resuming.prototype = Native.prototype
  Resuming.CONNECTING = Native.CONNECTING
  Resuming.OPEN = Native.OPEN
  Resuming.CLOSED = Native.CLOSED
  Resuming.resumesRealtime = true
  global.EventSource = Resuming
})(typeof window !== 'undefined' ? window : globalThis)
