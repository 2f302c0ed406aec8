/**
 * CPU time spent during a stretch of a bench: this process's (every thread of it) and that of the
 * other processes it drives (smtp-sink, PostgreSQL's backends), read from /proc. With these a
 * bench can say what a rate costs in CPU, and so what the machine's cores allow at best.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Linux's USER_HZ: /proc counts CPU time in these ticks. */
const TICKS_PER_SECOND = 100;

/** CPU seconds of every process whose command name is one of `names`, alive now. */
function cpuSecondsOfProcesses(names: readonly string[]): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    // The command name is in parentheses and may hold spaces; the fields after it are plain.
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    if (!names.includes(name)) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / TICKS_PER_SECOND;
}

export interface CpuSpent {
  /** Seconds of CPU used by this process, all its threads, user and system. */
  own: number;
  /** Seconds of CPU used by the named other processes. */
  others: number;
}

/** Starts counting; the returned function tells what was spent since. */
export function countCpu(otherProcesses: readonly string[]): () => CpuSpent {
  const ownStart = process.cpuUsage();
  const othersStart = cpuSecondsOfProcesses(otherProcesses);
  return () => {
    const own = process.cpuUsage(ownStart);
    return {
      own: (own.user + own.system) / 1e6,
      others: cpuSecondsOfProcesses(otherProcesses) - othersStart,
    };
  };
}

/** Milliseconds of CPU a message cost, for a printed line. */
export function perMessage(spent: CpuSpent, count: number): string {
  const ms = (seconds: number) => ((seconds * 1000) / count).toFixed(2);
  return `CPU/msg ${ms(spent.own)} ms here + ${ms(spent.others)} ms peers`;
}

export const coreCount = cpus().length;
