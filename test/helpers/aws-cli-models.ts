import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Lambda's LoggingConfig shapes, as in its published API (LoggingConfig, 2023-11). */
const LOGGING_SHAPES = {
  LoggingConfig: {
    type: 'structure',
    members: {
      LogFormat: { shape: 'LogFormat' }, ApplicationLogLevel: { shape: 'ApplicationLogLevel' },
      SystemLogLevel: { shape: 'SystemLogLevel' }, LogGroup: { shape: 'LogGroup' },
    },
  },
  LogFormat: { type: 'string', enum: ['JSON', 'Text'] },
  ApplicationLogLevel: { type: 'string', enum: ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] },
  SystemLogLevel: { type: 'string', enum: ['DEBUG', 'INFO', 'WARN'] },
  LogGroup: { type: 'string', max: 512, min: 1, pattern: '[\\.\\-_/#A-Za-z0-9]+' },
};

interface ServiceModel {
  shapes: Record<string, { members?: Record<string, unknown> }>;
}

/**
 * The installed AWS CLI (/usr/bin/aws, v2.9) predates Lambda's LoggingConfig (CLI 2.13.38). This
 * writes its own Lambda model plus the LoggingConfig shapes (what `aws configure add-model` does)
 * under `dir`, and returns the variables that make the CLI load it: the real CLI then sends and
 * shows `--logging-config` as a current one does. With a CLI that knows LoggingConfig, nothing.
 */
export async function cliWithLoggingConfig(dir: string): Promise<Record<string, string>> {
  const botocore = execFileSync('/usr/bin/python3', ['-c', 'import awscli.botocore, os; print(os.path.dirname(awscli.botocore.__file__))']).toString().trim();
  const model = JSON.parse(await readFile(join(botocore, 'data', 'lambda', '2015-03-31', 'service-2.json'), 'utf8')) as ServiceModel;
  if (model.shapes.LoggingConfig) return {};
  Object.assign(model.shapes, LOGGING_SHAPES);
  for (const shape of ['CreateFunctionRequest', 'UpdateFunctionConfigurationRequest', 'FunctionConfiguration']) {
    const members = model.shapes[shape]?.members;
    if (!members) throw new Error(`the CLI's Lambda model has no ${shape}`);
    members.LoggingConfig = { shape: 'LoggingConfig' };
  }
  const target = join(dir, 'lambda', '2015-03-31');
  await mkdir(target, { recursive: true });
  await writeFile(join(target, 'service-2.json'), JSON.stringify(model));
  return { AWS_DATA_PATH: dir };
}
