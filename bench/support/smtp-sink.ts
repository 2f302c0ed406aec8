/**
 * Postfix's smtp-sink on a free port of 127.0.0.1: accepts every message and throws it away, as fast
 * as loopback allows. Install it with `bash test/mail-peers/mail-peers.sh install`.
 */
import { spawn } from 'node:child_process';
import nodemailer from 'nodemailer';
import { freePort } from '../../test/support/cli.ts';

export interface Sink {
  port: number;
  stop(): void;
}

export async function startSink(): Promise<Sink> {
  const port = await freePort();
  // smtp-sink refuses to run as root without a user to switch to.
  const asUser = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
  const sink = spawn('smtp-sink', [...asUser, '-c', `127.0.0.1:${port}`, '1000'], { stdio: 'ignore' });
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const probe = nodemailer.createTransport({ host: '127.0.0.1', port, ignoreTLS: true });
      await probe.verify();
      probe.close();
      return { port, stop: () => sink.kill('SIGTERM') };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  sink.kill('SIGKILL');
  throw new Error('smtp-sink did not start: install it with `bash test/mail-peers/mail-peers.sh install`');
}
