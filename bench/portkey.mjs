// Starts Portkey's AI gateway listening on 127.0.0.1 only.
//
//     node bench/portkey.mjs <path to @portkey-ai/gateway's build/start-server.js> --port=N --headless
//
// Portkey's start script calls @hono/node-server's serve() without a hostname, which listens on
// every interface; here a listen() on a port without a host gets the loopback address.
import net from "node:net";
import { pathToFileURL } from "node:url";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (port, host, ...rest) {
  return listen.call(this, port, typeof port === "number" && host === undefined ? "127.0.0.1" : host, ...rest);
};

await import(pathToFileURL(process.argv[2]).href);
