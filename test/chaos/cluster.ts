// The chaos campaign's deployment: `tally serve` and `tally worker` OS processes on one database, with a
// small TCP balancer in front of the API processes (clients and provider callbacks both go through it,
// as they would through a load balancer). Processes are SIGKILLed and replaced; a process that dies
// without being killed is a failure the trial reports with its output.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { freePort } from '../../src/db/embedded.ts';
import { startCli, type RunningCli } from '../support/cli.ts';

export interface Balancer {
  url: string;
  /** API ports that take new connections. */
  targets: Set<number>;
  close(): Promise<void>;
}

/** Forwards each connection to a random live API process; with none alive the connection is refused. */
export async function startBalancer(): Promise<Balancer> {
  const targets = new Set<number>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const ports = [...targets];
    if (ports.length === 0) return void client.destroy();
    const upstream = net.connect(ports[Math.floor(Math.random() * ports.length)]!, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    // A dead API process resets its side: the client sees the connection drop, as behind a real balancer.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    targets,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Member {
  cli: RunningCli;
  port?: number;
  killed: boolean;
}

export class Cluster {
  readonly apis: Member[] = [];
  readonly workers: Member[] = [];
  kills = { api: 0, worker: 0 };
  /** Processes that exited without being killed, with their output: each one fails the trial. */
  readonly deaths: string[] = [];
  private readonly starting = new Set<Member>();

  constructor(
    private readonly env: Record<string, string>,
    readonly balancer: Balancer,
  ) {}

  /** Starts API and worker processes until there are `apis` and `workers` of each running. */
  async fill(apis: number, workers: number): Promise<void> {
    await Promise.all([
      ...Array.from({ length: Math.max(0, apis - this.apis.length) }, () => this.startApi()),
      ...Array.from({ length: Math.max(0, workers - this.workers.length) }, () => this.startWorker()),
    ]);
  }

  /** SIGKILLs one running process of the kind, at once (a request in flight there is cut). */
  async kill(kind: 'api' | 'worker'): Promise<void> {
    const members = kind === 'api' ? this.apis : this.workers;
    if (members.length === 0) return;
    const member = members.splice(Math.floor(Math.random() * members.length), 1)[0]!;
    member.killed = true;
    if (member.port) this.balancer.targets.delete(member.port);
    member.cli.child.kill('SIGKILL');
    this.kills[kind]++;
    await member.cli.exited;
  }

  /** Stops everything cleanly (SIGINT), as an operator would at the end; processes still starting too. */
  async stop(): Promise<void> {
    const members = [...this.apis.splice(0), ...this.workers.splice(0), ...this.starting];
    this.starting.clear();
    this.balancer.targets.clear();
    await Promise.all(
      members.map((m) => {
        m.killed = true;
        m.cli.child.kill('SIGINT');
        return m.cli.exited;
      }),
    );
  }

  private async startApi(): Promise<void> {
    const port = await freePort();
    const member = this.watch(startCli(['serve'], { ...this.env, HOST: '127.0.0.1', PORT: String(port) }), port);
    await this.started(member, /HTTP API listening/);
    this.apis.push(member);
    this.balancer.targets.add(port);
  }

  private async startWorker(): Promise<void> {
    const member = this.watch(startCli(['worker'], this.env));
    await this.started(member, /worker started/);
    this.workers.push(member);
  }

  private async started(member: Member, line: RegExp): Promise<void> {
    this.starting.add(member);
    try {
      await member.cli.waitFor(line);
    } finally {
      this.starting.delete(member);
    }
  }

  private watch(cli: RunningCli, port?: number): Member {
    const member: Member = { cli, port, killed: false };
    void cli.exited.then((code) => {
      if (member.killed) return;
      this.deaths.push(`a ${port ? 'tally serve' : 'tally worker'} process exited (${code}) without being killed:\n${cli.output().slice(-4000)}`);
      if (port) this.balancer.targets.delete(port);
      for (const list of [this.apis, this.workers]) if (list.includes(member)) list.splice(list.indexOf(member), 1);
    });
    return member;
  }
}
