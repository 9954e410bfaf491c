output "access_key" {
  description = "AWS access key id (`null` when `create_credentials` is false)."
  value       = try(local.result.access_key, null)
  sensitive   = true
}

output "secret_key" {
  description = "AWS secret access key (`null` when `create_credentials` is false)."
  value       = try(local.result.secret_key, null)
  sensitive   = true
}

output "security_token" {
  description = "STS session token; `null` for IAM-user keys or when `create_credentials` is false."
  value       = try(local.result.security_token, "") == "" ? null : local.result.security_token
  sensitive   = true
}

output "lease_id" {
  description = "Lease of the credentials, for `vault lease revoke`; `null` when none was issued."
  value       = try(local.result.lease_id, "") == "" ? null : local.result.lease_id
}

output "lease_duration" {
  description = "Seconds the credentials were issued for."
  value       = try(tonumber(local.result.lease_duration), null)
}

output "expiration" {
  description = "When the credentials expire (RFC 3339, UTC), counted from before the request."
  value       = try(local.result.expiration, "") == "" ? null : local.result.expiration
}

output "arn" {
  description = "ARN the credentials act as (the assumed-role session for STS), when the server reports it."
  value       = try(local.result.arn, null)
}

output "credential_process" {
  description = "A `credential_process` command line that issues fresh credentials whenever the AWS SDK needs them. Nothing secret: put it in a profile to keep keys out of state and survive long applies."
  value       = local.credential_process
}

output "aws_config_profile" {
  description = "An AWS shared config file section using `credential_process`, ready to append to `~/.aws/config` or an `AWS_CONFIG_FILE`."
  value       = local.aws_config_profile
}

output "ephemeral_access_key" {
  description = "AWS access key id from the ephemeral resource (`null` unless `ephemeral_credentials`)."
  value       = try(ephemeral.vaultlet_aws_credentials.this[0].access_key, null)
  ephemeral   = true
  sensitive   = true
}

output "ephemeral_secret_key" {
  description = "AWS secret access key from the ephemeral resource (`null` unless `ephemeral_credentials`)."
  value       = try(ephemeral.vaultlet_aws_credentials.this[0].secret_key, null)
  ephemeral   = true
  sensitive   = true
}

output "ephemeral_security_token" {
  description = "STS session token from the ephemeral resource; `null` for IAM-user keys or unless `ephemeral_credentials`."
  value       = try(ephemeral.vaultlet_aws_credentials.this[0].security_token, null)
  ephemeral   = true
  sensitive   = true
}

output "ephemeral_lease_id" {
  description = "Lease of the ephemeral credentials (revoked when Terraform closes the resource)."
  value       = try(ephemeral.vaultlet_aws_credentials.this[0].lease_id, null)
  ephemeral   = true
}

output "ephemeral_expiration" {
  description = "When the ephemeral credentials' lease ends unless renewed (RFC 3339, UTC)."
  value       = try(ephemeral.vaultlet_aws_credentials.this[0].expiration, null)
  ephemeral   = true
}
