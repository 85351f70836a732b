import { StratusError } from '../../shared/errors.js';
import type { LaunchContext } from './common.js';

/** The runtime client's jar inside the sandbox (the runtime directory is bound at /var/runtime). */
export const JAVA_RUNTIME_JAR = '/var/runtime/lib/stratus-java-runtime.jar';
/** Lambda's class path: the runtime, the code's classes at the zip's root, its lib/*.jar, then layers'. */
const CLASS_PATH = [JAVA_RUNTIME_JAR, '/var/task', '/var/task/lib/*', '/opt/java/lib/*'].join(':');

/**
 * The JVM as Lambda's java17 runtime starts it, sized from the function's memory: the heap at 85%,
 * metaspace 10%, code cache 5% (kB), the serial collector, C1 only (fast start-up) and the JDK's
 * class-data sharing archive when it has one. No perf-data file in /tmp (nothing mapped from a
 * writable file when a SnapStart sandbox is checkpointed).
 */
export function javaCommand(memoryMb: number, ctx: LaunchContext): string[] {
  const javaHome = ctx.files.javaHome;
  if (!javaHome) throw new StratusError('SandboxCreateFailed', 'java17 needs OpenJDK 17 on the worker (scripts/setup.sh installs openjdk-17-jdk-headless)');
  const kb = (share: number) => Math.floor(memoryMb * 1024 * share);
  return [
    `${javaHome}/bin/java`,
    `-XX:MaxHeapSize=${kb(0.85)}k`, `-XX:MaxMetaspaceSize=${kb(0.1)}k`, `-XX:ReservedCodeCacheSize=${Math.max(kb(0.05), 2560)}k`,
    '-XX:+UseSerialGC', '-XX:+TieredCompilation', '-XX:TieredStopAtLevel=1', '-Xshare:auto', '-XX:-UsePerfData',
    '-Djava.net.preferIPv4Stack=true',
    '-cp', CLASS_PATH, 'dev.stratus.runtime.Bootstrap',
  ];
}

/** The variables of the java17 runtime (JAVA_HOME as the sandbox sees it, the same path as the host's). */
export function javaVariables(ctx: LaunchContext): Record<string, string> {
  return ctx.files.javaHome ? { JAVA_HOME: ctx.files.javaHome } : {};
}
