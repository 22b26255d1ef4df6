// Debian's nginx in front of example instances, as docs/deploy.md configures it: TLS with the
// test's self-signed certificate and HTTP/2 toward the browser, HTTP/1.1 with keep-alive toward
// the instances, buffering off on the event stream, timeouts longer than the heartbeat, and
// the client's address in X-Forwarded-For. Its files live in a temporary directory; the
// process is stopped when this process exits, however it exits.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

import { freePort, sleep } from "./helpers.mjs";

/** Where Debian's package puts it. */
const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((bin) => existsSync(bin));

/** How long nginx may take to accept connections. */
const READY_TIMEOUT = 10_000;

const running = new Set();
process.on("exit", () => {
    for (const child of running) child.kill("SIGKILL");
});

/** The configuration: one upstream group of `upstreams` (ports), behind TLS and HTTP/2. */
export function config({ dir, port, upstreams, certificate, key }) {
    const servers = upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join("\n");
    const proxied = `
      proxy_pass http://chat;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;`;
    // As root, the workers would run as nobody, who cannot read the test's private directory.
    const user = process.getuid?.() === 0 ? "user root;\n" : "";
    return `${user}worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  log_format upstreams '$msec "$request" $status $upstream_addr $upstream_status';
  access_log ${dir}/access.log upstreams;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  upstream chat {
${servers}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${certificate};
    ssl_certificate_key ${key};
    location = /api/realtime {${proxied}
      # Every event as it comes; the read timeout is far longer than the heartbeat, so a quiet
      # stream is never cut by the proxy.
      proxy_buffering off;
      proxy_cache off;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
    location / {${proxied}
    }
  }
}
`;
}

/**
 * Starts nginx on a free loopback port in front of the instances listening on `upstreams`
 * (ports), with the certificate and key of `tlsDir` (`cert.pem`, `key.pem`). Resolves with
 * `{ url, port, log(), stop() }`.
 */
export async function startNginx({ upstreams, tlsDir }) {
    if (!NGINX) {
        throw new Error("nginx is missing: scripts/test-all.sh installs it (apt-get install -y nginx)");
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), "realtime-nginx-"));
    mkdirSync(path.join(dir, "tmp"));
    const port = await freePort();
    const file = path.join(dir, "nginx.conf");
    writeFileSync(
        file,
        config({
            dir,
            port,
            upstreams,
            certificate: path.join(tlsDir, "cert.pem"),
            key: path.join(tlsDir, "key.pem"),
        }),
    );
    let output = "";
    const child = spawn(NGINX, ["-p", dir, "-c", file, "-g", "daemon off;"], {
        stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(child);
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    let exited = null;
    const done = new Promise((resolve) => child.once("exit", (code, signal) => resolve((exited = { code, signal }))));
    const url = `https://127.0.0.1:${port}`;
    const log = () => {
        let errors = "";
        try {
            errors = String(readFileSync(path.join(dir, "error.log"))).slice(-8_192);
        } catch {
            // not written yet
        }
        return `${output}\n${errors}`;
    };
    const deadline = Date.now() + READY_TIMEOUT;
    for (;;) {
        if (exited) throw new Error(`nginx exited (${JSON.stringify(exited)}): ${log()}`);
        if (await listening(port)) break;
        if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port} within ${READY_TIMEOUT} ms: ${log()}`);
        await sleep(50);
    }
    return {
        url,
        port,
        log,
        /** Every request nginx served: time, request line, status, upstream, its status. */
        accessLog: () => String(readFileSync(path.join(dir, "access.log"))),
        async stop() {
            child.kill("SIGTERM");
            await Promise.race([done, sleep(5_000)]);
            if (!exited) child.kill("SIGKILL");
            running.delete(child);
            rmSync(dir, { recursive: true, force: true });
        },
    };
}

function listening(port) {
    return new Promise((resolve) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.once("connect", () => {
            socket.destroy();
            resolve(true);
        });
        socket.once("error", () => resolve(false));
    });
}
