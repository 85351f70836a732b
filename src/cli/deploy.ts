import {
  CreateFunctionCommand, GetFunctionCommand, ResourceNotFoundException, UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand, type LambdaClient,
} from '@aws-sdk/client-lambda';
import { SingleBar } from 'cli-progress';
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Transform } from 'node:stream';
import { ZipFile } from 'yazl';

export interface DeployOptions {
  name: string;
  runtime?: string;
  handler?: string;
  memoryMb?: number;
  timeoutSec?: number;
}

/** Packages this large or larger get a progress bar while they are zipped. */
const PROGRESS_FROM_BYTES = 1024 * 1024;

/**
 * `stratus deploy DIR`: zips the directory (its regular files, modes kept) and creates the
 * function, or updates its code (and any configuration given) if it exists. Resolves its ARN.
 */
export async function deploy(lambda: LambdaClient, dir: string, o: DeployOptions, progress: NodeJS.WriteStream): Promise<string> {
  const zip = await zipDirectory(dir, progress);
  progress.write(`Uploading ${(zip.length / 1024 / 1024).toFixed(1)} MiB to ${o.name}\n`);
  const config = { MemorySize: o.memoryMb, Timeout: o.timeoutSec, Handler: o.handler, Runtime: o.runtime as never };
  try {
    await lambda.send(new GetFunctionCommand({ FunctionName: o.name }));
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
    const created = await lambda.send(new CreateFunctionCommand({
      FunctionName: o.name, Code: { ZipFile: zip }, Role: 'arn:aws:iam::000000000000:role/stratus',
      ...config, Runtime: (o.runtime ?? 'nodejs20.x') as never, Handler: o.handler ?? 'index.handler',
    }));
    return created.FunctionArn ?? '';
  }
  const updated = await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: o.name, ZipFile: zip }));
  if (Object.values(config).some((v) => v !== undefined)) {
    return (await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: o.name, ...config }))).FunctionArn ?? '';
  }
  return updated.FunctionArn ?? '';
}

/** The directory's regular files as a zip, with a progress bar on `progress` for a large one. */
export async function zipDirectory(dir: string, progress: NodeJS.WriteStream): Promise<Buffer> {
  const files = await regularFiles(dir);
  const total = files.reduce((n, f) => n + f.size, 0);
  const bar = total >= PROGRESS_FROM_BYTES
    ? new SingleBar({ format: 'Zipping [{bar}] {percentage}% | {value}/{total} KiB', stream: progress, noTTYOutput: true, notTTYSchedule: 1000 })
    : undefined;
  bar?.start(Math.ceil(total / 1024), 0);
  let done = 0;
  const zip = new ZipFile();
  for (const f of files) {
    const counted = new Transform({
      transform(chunk: Buffer, _enc, next) {
        done += chunk.length;
        bar?.update(Math.floor(done / 1024));
        next(null, chunk);
      },
    });
    zip.addReadStream(createReadStream(f.path).pipe(counted), f.name, { mode: f.mode });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  bar?.update(Math.ceil(total / 1024));
  bar?.stop();
  return Buffer.concat(chunks);
}

/** Regular files under `dir`, named relative to it with `/`; symbolic links and others are left out. */
async function regularFiles(dir: string): Promise<{ path: string; name: string; size: number; mode: number }[]> {
  const found: { path: string; name: string; size: number; mode: number }[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const stat = await lstat(path);
    if (stat.isFile()) found.push({ path, name: relative(dir, path).split(sep).join('/'), size: stat.size, mode: stat.mode });
  }
  if (found.length === 0) throw new Error(`${dir} has no files to deploy`);
  return found.sort((a, b) => (a.name < b.name ? -1 : 1));
}
