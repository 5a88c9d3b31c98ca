/**
 * Projects: MLproject parsing, parameters, environments, git provenance and
 * execution (`mloop run`). Other folders use only what is exported here.
 */
export { runProject, prepareProject, OUTPUT_ARTIFACT, DIFF_ARTIFACT } from "./run.js";
export type { RunProjectOptions, RunProjectResult, EnvManager, PreparedProject, EmbeddedServerStarter } from "./run.js";
export {
  ProjectError,
  loadProject,
  getEntryPoint,
  resolveParameters,
  buildCommand,
  parseParamList,
  shellQuote,
  PARAMETER_TYPES,
} from "./spec.js";
export type { Project, EntryPoint, Parameter, ParameterType, ResolvedParameters } from "./spec.js";
export { fetchProject, gitInfo, isGitUrl, stripCredentials } from "./git.js";
export { ensureVirtualenv, parsePythonEnv } from "./env.js";
