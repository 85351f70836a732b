// Terraform 1.x with the AWS provider (from the provider mirror under /opt, no network) applies
// and destroys an aws_lambda_function with an alias against a real `stratus up`, and a plan
// after the apply finds nothing to change: the provider reads every function back (GetFunction,
// GetFunctionCodeSigningConfig, ListVersionsByFunction, ...) and sees what it wrote. Skips where
// terraform or the mirror is absent.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetAliasCommand, GetFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const TERRAFORM = ['/usr/local/bin/terraform', '/usr/bin/terraform'].find((p) => existsSync(p));
const MIRROR = '/opt/tf-plugins';
const PROVIDER = `${MIRROR}/registry.terraform.io/hashicorp/aws`;
const available = TERRAFORM !== undefined && existsSync(PROVIDER);

interface Run { code: number; stdout: string; stderr: string }

let s: StratusProcess;
let dir: string;

function terraform(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(TERRAFORM ?? 'terraform', args, {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, TF_CLI_CONFIG_FILE: join(dir, 'cli.tfrc'), CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1',
        TF_DATA_DIR: join(dir, '.terraform'),
      },
      maxBuffer: 64 * 1024 * 1024,
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

async function ok(args: string[]): Promise<Run> {
  const r = await terraform(args);
  assert.equal(r.code, 0, `terraform ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

function configuration(version: string, url: string, key: { accessKeyId: string; secretAccessKey: string }, description: string): string {
  return `
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "${version}" }
  }
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "${key.accessKeyId}"
  secret_key                  = "${key.secretAccessKey}"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    lambda = "${url}"
  }
}

resource "aws_lambda_function" "hello" {
  function_name    = "tf-hello"
  filename         = "hello.zip"
  source_code_hash = filebase64sha256("hello.zip")
  role             = "arn:aws:iam::123456789012:role/lambda-role"
  handler          = "index.handler"
  runtime          = "nodejs20.x"
  description      = "${description}"
  memory_size      = 256
  timeout          = 10
  publish          = true
  environment {
    variables = { GREETING = "hello from terraform" }
  }
}

resource "aws_lambda_alias" "live" {
  name             = "live"
  function_name    = aws_lambda_function.hello.function_name
  function_version = aws_lambda_function.hello.version
}
`;
}

describe('terraform applies and destroys a Lambda function and alias', { skip: available ? false : 'terraform or its AWS provider mirror is absent' }, () => {
  before(async () => {
    s = await startStratus();
    dir = await mkdtemp(join(tmpdir(), 'stratus-terraform-'));
    await writeFile(join(dir, 'hello.zip'), await makeZip({ 'index.js': 'exports.handler = async () => process.env.GREETING;' }));
    await writeFile(join(dir, 'cli.tfrc'), `provider_installation {
  filesystem_mirror {
    path    = "${MIRROR}"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
`);
  });
  after(async () => {
    await s?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('apply, a plan with no changes, an update, and destroy', async () => {
    const { readdirSync } = await import('node:fs');
    const version = readdirSync(PROVIDER)[0] ?? '';
    await writeFile(join(dir, 'main.tf'), configuration(version, s.url, s.credentials, 'made by terraform'));
    await ok(['init', '-input=false', '-no-color']);
    await ok(['apply', '-auto-approve', '-input=false', '-no-color']);

    const fn = await s.lambda.send(new GetFunctionCommand({ FunctionName: 'tf-hello' }));
    assert.equal(fn.Configuration?.Description, 'made by terraform');
    assert.equal(fn.Configuration?.MemorySize, 256);
    const alias = await s.lambda.send(new GetAliasCommand({ FunctionName: 'tf-hello', Name: 'live' }));
    assert.equal(alias.FunctionVersion, '1');
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'tf-hello:live' }));
    assert.equal(Buffer.from(out.Payload ?? []).toString(), '"hello from terraform"');

    const plan = await terraform(['plan', '-detailed-exitcode', '-input=false', '-no-color']);
    assert.equal(plan.code, 0, `a plan right after the apply must find no changes (exit 2 means drift):\n${plan.stdout}\n${plan.stderr}`);

    await writeFile(join(dir, 'main.tf'), configuration(version, s.url, s.credentials, 'changed by terraform'));
    await ok(['apply', '-auto-approve', '-input=false', '-no-color']);
    const changed = await s.lambda.send(new GetAliasCommand({ FunctionName: 'tf-hello', Name: 'live' }));
    assert.equal(changed.FunctionVersion, '2', 'the new configuration was published and the alias moved to it');

    await ok(['destroy', '-auto-approve', '-input=false', '-no-color']);
    await assert.rejects(s.lambda.send(new GetFunctionCommand({ FunctionName: 'tf-hello' })), { name: 'ResourceNotFoundException' });
  });
});
