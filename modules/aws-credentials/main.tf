locals {
  # The credentials program ships in this repository's terraform/ directory. A module
  # source such as `git::https://...//modules/aws-credentials` fetches the whole
  # repository, so the relative path holds wherever the module is consumed.
  program_path = abspath("${path.module}/../../terraform/vaultlet_aws_credentials.py")

  # -I -S: stdlib only, so skip site-packages and ignore PYTHON* variables; starts faster.
  program = [var.python, "-I", "-S", local.program_path]

  # Unset inputs are not sent (external >= 2.3.2 drops nulls too; older ones sent "").
  query = { for key, value in {
    address           = var.vault_address
    mount             = var.mount
    role              = var.role
    type              = var.credential_type
    role_arn          = var.role_arn
    ttl               = var.ttl
    role_session_name = var.role_session_name
    namespace         = var.namespace
    ca_cert           = var.ca_cert
    tls_skip_verify   = var.tls_skip_verify ? "true" : null
    timeout           = "${var.timeout_seconds}s"
  } : key => value if value != null }

  # The same settings as command-line flags, for credential_process (a list keeps their order).
  credential_process_flags = flatten([
    for flag in [
      ["--role", var.role],
      ["--mount", var.mount],
      ["--type", var.credential_type],
      ["--address", var.vault_address],
      ["--role-arn", var.role_arn],
      ["--ttl", var.ttl],
      ["--role-session-name", var.role_session_name],
      ["--namespace", var.namespace],
      ["--ca-cert", var.ca_cert],
      ["--timeout", "${var.timeout_seconds}s"],
      ["--expiry-window", var.expiry_window_seconds > 0 ? "${var.expiry_window_seconds}s" : null],
    ] : flag if flag[1] != null
  ])
  credential_process_argv = concat(local.program, ["credential-process"], local.credential_process_flags, var.tls_skip_verify ? ["--tls-skip-verify"] : [])

  # The AWS SDKs run credential_process through `sh -c`: quote what the shell would split.
  credential_process = join(" ", [
    for arg in local.credential_process_argv :
    can(regex("^[A-Za-z0-9_./:=@%+,-]+$", arg)) ? arg : format("'%s'", replace(arg, "'", "'\\''"))
  ])

  aws_config_profile = format("%s\n", join("\n", compact([
    "[profile ${var.profile_name}]",
    "credential_process = ${local.credential_process}",
    var.region == null ? "" : "region = ${var.region}",
  ])))

  result = try(data.external.this[0].result, {})
}

################################################################################
# Credentials read at plan time (stored in state: protect it, keep TTLs short)
################################################################################

data "external" "this" {
  count = var.create_credentials && !var.ephemeral_credentials ? 1 : 0

  program = local.program
  query   = local.query
}

################################################################################
# Ephemeral credentials (Terraform >= 1.10): never in state or plan, renewed while
# Terraform runs, revoked when it is done. Needs the vaultlet/vaultlet provider,
# configured by the calling root module (provider "vaultlet" { ... }).
################################################################################

ephemeral "vaultlet_aws_credentials" "this" {
  count = var.ephemeral_credentials ? 1 : 0

  mount             = var.mount
  role              = var.role
  type              = var.credential_type
  ttl               = var.ttl
  role_arn          = var.role_arn
  role_session_name = var.role_session_name
}
