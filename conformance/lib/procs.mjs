// Starting and stopping the processes the suite runs for real: mosquitto,
// the kfake broker and the agent. Each keeps its output, printed when a
// check fails.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

// tempDir makes a directory for one run's files.
export function tempDir(prefix) {
  return mkdtempSync(path.join(os.tmpdir(), `conformance-${prefix}-`));
}

// freePort returns a loopback TCP port nothing listens on now.
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// waitPort resolves once 127.0.0.1:port accepts a connection, and rejects
// after withinMs or when proc exits first.
export async function waitPort(port, proc, withinMs) {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (proc.exited) throw new Error(`${proc.name} exited (${proc.exitCode}) before listening on ${port}:\n${proc.output()}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${proc.name} does not listen on ${port} after ${withinMs} ms:\n${proc.output()}`);
}

// sleep resolves after ms.
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Proc is a child process whose stdout and stderr are kept.
export class Proc {
  constructor(name, cmd, args) {
    this.name = name;
    this.chunks = [];
    this.exited = false;
    this.exitCode = null;
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.done = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exited = true;
        this.exitCode = code ?? signal;
        resolve(this.exitCode);
      });
      this.child.on('error', (err) => {
        this.chunks.push(Buffer.from(`spawn ${cmd}: ${err.message}\n`));
        this.exited = true;
        this.exitCode = err.code;
        resolve(this.exitCode);
      });
    });
    for (const s of [this.child.stdout, this.child.stderr]) s.on('data', (b) => this.chunks.push(b));
  }

  // output is everything the process wrote so far.
  output() {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  // stop sends signal and resolves to the exit code (or signal name),
  // killing the process when it has not exited within ms.
  async stop(signal = 'SIGTERM', ms = 30000) {
    if (this.exited) return this.exitCode;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    const code = await this.done;
    clearTimeout(timer);
    return code;
  }
}

// startMosquitto starts mosquitto on a free loopback port with anonymous
// access and no persistence, with Nagle's algorithm on (its default)
// unless noDelay, and returns {proc, url, noDelay}.
export async function startMosquitto(noDelay = false) {
  const dir = tempDir('mosquitto');
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n` +
    (noDelay ? 'set_tcp_nodelay true\n' : ''));
  const proc = new Proc('mosquitto', 'mosquitto', ['-c', conf]);
  await waitPort(port, proc, 10000);
  return { proc, url: `mqtt://127.0.0.1:${port}`, noDelay };
}

// startKfake starts the kfake binary and returns {proc, brokers}: it
// prints the brokers' addresses on its first line.
export async function startKfake(bin, commandPartitions) {
  const proc = new Proc('kfake', bin, ['-command-partitions', String(commandPartitions)]);
  const deadline = Date.now() + 10000;
  for (;;) {
    const line = proc.output().split('\n')[0];
    if (proc.output().includes('\n') && /^[\d.:,]+$/.test(line)) return { proc, brokers: line.split(',') };
    if (proc.exited || Date.now() > deadline) throw new Error(`kfake printed no addresses:\n${proc.output()}`);
    await sleep(50);
  }
}

// startAgent writes config (YAML) to a file and runs the agent with it.
export function startAgent(bin, config) {
  const dir = tempDir('agent');
  const file = path.join(dir, 'agent.yaml');
  writeFileSync(file, config.replaceAll('STATE_DIR', path.join(dir, 'state')));
  return new Proc('agent', bin, ['run', '--config', file]);
}
