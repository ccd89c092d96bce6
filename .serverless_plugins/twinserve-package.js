'use strict';

/**
 * twinserve-package: `osls package` and `osls deploy` typed at the repository root ship the same
 * checked package as `make package-lambda`.
 *
 * Why a plugin: Lambda wants the code flat at the zip root (handler.py, twinserve/, model/ ...),
 * but the repository keeps it in shared/, services/ and model/. `make package-lambda` stages it
 * into <build>/service/, runs `osls package` there (with serverless-python-requirements), then
 * checks the result (size, cfn-lint, checkov, template invariants, import smoke). At the root,
 * the Framework would zip the root folder instead: a function that cannot start.
 *
 * So at the root this plugin, on the Framework's own package lifecycle:
 *   initialize                               unhooks serverless-python-requirements' packaging
 *                                            hooks here (it would pip-install again and rewrite
 *                                            the checked zip); in the staged build it runs as usual
 *   before:package:createDeploymentArtifacts runs `make package-lambda` with this command's
 *                                            stage, region and --param values (incremental), checks
 *                                            the zip's SHA-256 against the build stamp, copies it
 *                                            to .serverless/twinserve.zip and sets package.artifact
 *   after:package:createDeploymentArtifacts  the artifact still has the checked SHA-256
 *   after:package:finalize                   the root's CloudFormation template equals the checked
 *                                            one (up to the timestamped artifact folder)
 *   before:deploy:function:packageFunction   `osls deploy function` ships the checked zip as well
 *
 * Stage and region become make arguments: at the root, anything but a stage of a-z, 0-9 and '-' and
 * a region shaped like eu-west-1 stops the command on initialize with one line and exit status 2.
 *
 * In the staged folder (any service folder other than the repository root) it does nothing.
 *
 * Environment: LAMBDA_BUILD (optional) is the build folder, default <repo>/build/lambda.
 */

const { spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const REPO = path.resolve(__dirname, '..');
const ZIP_NAME = 'twinserve.zip';
const TEMPLATE_NAME = 'cloudformation-template-update-stack.json';
const STATE_NAME = 'serverless-state.json';
const REQUIREMENTS_PLUGIN = 'ServerlessPythonRequirements';
const REQUIREMENTS_PACKAGE_HOOKS = [
  'after:package:cleanup',
  'before:package:createDeploymentArtifacts',
  'after:package:createDeploymentArtifacts',
  'before:deploy:function:packageFunction',
  'after:deploy:function:packageFunction',
];
// A --param value reaches make as one word of LAMBDA_PARAMS: no whitespace or quotes in it.
const PARAM_PATTERN = /^[A-Za-z0-9_]+=[^\s'"\\]*$/;
// Stage and region reach make's command line (where $(...) would expand): these shapes only.
const STAGE_PATTERN = /^[a-z0-9-]{1,16}$/;
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$/;

function realpathOrSelf(p) {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function sha256File(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** JSON with object keys sorted, so that two templates compare by content, not key order. */
function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The dotted paths where two JSON values differ (at most `limit`). */
function differences(a, b, where = '', limit = 5, out = []) {
  if (out.length >= limit) return out;
  const objects = a && b && typeof a === 'object' && typeof b === 'object';
  if (!objects || Array.isArray(a) !== Array.isArray(b)) {
    if (canonicalJson(a) !== canonicalJson(b)) out.push(where || '(root)');
    return out;
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of [...keys].sort()) {
    differences(a[key], b[key], where ? `${where}.${key}` : key, limit, out);
  }
  return out;
}

class TwinservePackage {
  constructor(serverless, options, { log } = {}) {
    this.serverless = serverless;
    this.options = options || {};
    this.log = log || { notice: console.error, info: () => {}, debug: () => {} };
    this.atRoot = realpathOrSelf(serverless.serviceDir || process.cwd()) === realpathOrSelf(REPO);
    this.hooks = {};
    if (!this.atRoot) return;
    this.build = path.resolve(REPO, process.env.LAMBDA_BUILD || path.join('build', 'lambda'));
    this.stamp = path.join(this.build, '.packaged');
    this.checkedZip = path.join(this.build, 'service', '.serverless', ZIP_NAME);
    this.checkedTemplate = path.join(this.build, 'service', '.serverless', TEMPLATE_NAME);
    this.checkedState = path.join(this.build, 'service', '.serverless', STATE_NAME);
    this.hooks = {
      'initialize': () => {
        this.checkStageAndRegion();
        this.unhookRequirementsPlugin();
      },
      'before:package:createDeploymentArtifacts': () => this.useCheckedPackage(),
      'after:package:createDeploymentArtifacts': () => this.assertArtifactUnchanged(),
      'after:package:finalize': () => this.assertTemplateMatchesChecked(),
      'before:deploy:function:packageFunction': () => this.useCheckedPackage(),
    };
  }

  error(message) {
    return new this.serverless.classes.Error(`twinserve-package: ${message}`);
  }

  /** A bad stage or region is a usage error: one line on stderr, exit status 2, nothing built. */
  checkStageAndRegion() {
    const provider = this.serverless.getProvider('aws');
    const stage = String(provider.getStage());
    const region = String(provider.getRegion());
    let problem = null;
    if (!STAGE_PATTERN.test(stage)) {
      problem = `stage ${JSON.stringify(stage)} must be 1-16 characters of a-z, 0-9 and '-'`;
    } else if (!REGION_PATTERN.test(region)) {
      problem = `region ${JSON.stringify(region)} is not an AWS region name like eu-west-1`;
    }
    if (problem) {
      process.stderr.write(`twinserve-package: ${problem}\n`);
      process.exit(2);
    }
  }

  unhookRequirementsPlugin() {
    const hooks = this.serverless.pluginManager.hooks;
    let removed = 0;
    for (const event of REQUIREMENTS_PACKAGE_HOOKS) {
      const before = (hooks[event] || []).length;
      hooks[event] = (hooks[event] || []).filter((h) => h.pluginName !== REQUIREMENTS_PLUGIN);
      removed += before - hooks[event].length;
    }
    this.log.debug(`unhooked ${removed} package hooks of ${REQUIREMENTS_PLUGIN} at the repository root`);
  }

  /** The `--param` values of this command, as `key=value` words. */
  cliParams() {
    const raw = this.options.param;
    const params = raw === undefined ? [] : [].concat(raw).map(String);
    for (const param of params) {
      if (!PARAM_PATTERN.test(param)) {
        throw this.error(`--param ${JSON.stringify(param)} must be key=value without spaces or quotes`);
      }
    }
    return params;
  }

  checkedSha256() {
    let text;
    try {
      text = fs.readFileSync(this.stamp, 'utf8');
    } catch {
      throw this.error(`${this.stamp} is missing after make package-lambda`);
    }
    for (const line of text.split('\n')) {
      const [sha, file] = line.trim().split(/\s+/);
      if (file && path.resolve(REPO, file) === this.checkedZip) return sha;
    }
    throw this.error(`${this.stamp} names no SHA-256 for ${this.checkedZip}`);
  }

  runCheckedBuild() {
    const provider = this.serverless.getProvider('aws');
    const params = this.cliParams();
    const args = [
      '-C', REPO, '--no-print-directory',
      // osls runs from node_modules: never let make reinstall it under our feet.
      '-o', 'node_modules/.stamp',
      'package-lambda',
      `LAMBDA_BUILD=${this.build}`,
      `LAMBDA_STAGE=${provider.getStage()}`,
      `LAMBDA_REGION=${provider.getRegion()}`,
      `LAMBDA_PARAMS=${params.join(' ')}`,
      // Only this command's --param values decide the package: not a LAMBDA_ARCH from the shell.
      'LAMBDA_ARCH=',
      'LAMBDA_MEMORY_MB=',
    ];
    this.log.notice(`Building and checking the Lambda package: make ${args.slice(5).join(' ')}`);
    const started = Date.now();
    // A make that called osls (make lambda-deploy-dry-run) must not hand its flags and variables
    // down: the build is decided by the arguments above alone.
    const env = { ...process.env };
    for (const name of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES']) delete env[name];
    const result = spawnSync('make', args, { stdio: ['ignore', 'inherit', 'inherit'], env });
    if (result.error) {
      const hint = result.error.code === 'ENOENT' ? ' (GNU make is not on PATH)' : '';
      throw this.error(`could not run make${hint}: ${result.error.message}`);
    }
    if (result.status !== 0) {
      throw this.error(`make package-lambda failed (exit ${result.status}); its output above says which check`);
    }
    this.log.notice(`Checked package ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }

  useCheckedPackage() {
    if (this.artifact) return; // `deploy` spawns `package`: build once per command
    this.runCheckedBuild();
    this.expectedSha256 = this.checkedSha256();
    const actual = sha256File(this.checkedZip);
    if (actual !== this.expectedSha256) {
      throw this.error(`${this.checkedZip} has SHA-256 ${actual}, but the checks passed on ${this.expectedSha256}`);
    }
    const packageDir = path.join(this.serverless.serviceDir, '.serverless');
    fs.mkdirSync(packageDir, { recursive: true });
    this.artifact = path.join(packageDir, ZIP_NAME);
    fs.copyFileSync(this.checkedZip, this.artifact);
    this.serverless.service.package.artifact = this.artifact;
    this.log.notice(`Using the checked package ${path.relative(REPO, this.checkedZip)} (sha256 ${actual.slice(0, 12)}...)`);
  }

  assertArtifactUnchanged() {
    const actual = sha256File(this.artifact);
    if (actual !== this.expectedSha256) {
      throw this.error(`another plugin rewrote ${this.artifact} after the checks (sha256 ${actual})`);
    }
  }

  assertTemplateMatchesChecked() {
    const root = this.serverless.service.provider.compiledCloudFormationTemplate;
    const checked = JSON.parse(fs.readFileSync(this.checkedTemplate, 'utf8'));
    const checkedDir = JSON.parse(fs.readFileSync(this.checkedState, 'utf8')).package.artifactDirectoryName;
    const rootDir = this.serverless.service.package.artifactDirectoryName;
    // The only expected difference: each packaging run uploads to its own timestamped S3 folder.
    const normalised = JSON.parse(JSON.stringify(checked).split(checkedDir).join(rootDir));
    const rootCopy = JSON.parse(JSON.stringify(root));
    if (canonicalJson(normalised) !== canonicalJson(rootCopy)) {
      const where = differences(normalised, rootCopy).join(', ');
      throw this.error(`the template built here differs from the checked one in ${this.checkedTemplate} at: ${where}`);
    }
    this.log.notice('CloudFormation template identical to the checked one (cfn-lint, checkov, invariants)');
  }
}

module.exports = TwinservePackage;
