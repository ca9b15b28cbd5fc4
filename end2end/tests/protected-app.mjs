// A protected application for tests/forward-auth.spec.ts: it has no login of its own and
// answers every request with what it received from the proxy, as JSON.
import http from "node:http";

const port = Number(process.env.APP_PORT);
http
  .createServer((req, res) => {
    const seen = {
      host: req.headers.host,
      url: req.url,
      user: req.headers["x-scanlogin-user"] ?? null,
      // UTF-8 on the wire; Node reads header bytes as latin1.
      name: req.headers["x-scanlogin-name"] ? Buffer.from(req.headers["x-scanlogin-name"], "latin1").toString("utf8") : null,
      groups: req.headers["x-scanlogin-groups"] ?? null,
      cookie: req.headers.cookie ?? null,
      underscored: req.headers["x_scanlogin_user"] ?? null,
    };
    res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
    res.end(JSON.stringify(seen));
  })
  .listen(port, "127.0.0.1");
