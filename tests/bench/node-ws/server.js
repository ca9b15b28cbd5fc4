// A minimal Node push server with `ws`, a baseline for `make bench`: sockets at
// `/websocket?clientid=ID` kept in a Map, `POST /push?clientid=ID` writes its body to the
// socket as one text frame. Nothing else: no authentication, no state, no expiry.
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

const sockets = new Map();
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (req.method !== 'POST' || url.pathname !== '/push') {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const socket = sockets.get(url.searchParams.get('clientid'));
    if (!socket) {
      res.writeHead(404).end('no such client');
      return;
    }
    socket.send(Buffer.concat(chunks).toString());
    res.writeHead(200).end('ok');
  });
});
const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname !== '/websocket') {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    const id = url.searchParams.get('clientid');
    sockets.set(id, ws);
    ws.on('close', () => sockets.delete(id));
    ws.on('error', () => {});
  });
});
const [host, port] = process.argv[2].split(':');
server.listen(Number(port), host);
