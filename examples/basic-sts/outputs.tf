output "caller_arn" {
  description = "Who Terraform acted as: the assumed-role session vaultlet issued."
  value       = data.aws_caller_identity.current.arn
}

output "account_id" {
  description = "Account of the credentials."
  value       = data.aws_caller_identity.current.account_id
}

output "bucket" {
  description = "The bucket created with the issued credentials."
  value       = aws_s3_bucket.this.id
}

output "lease_id" {
  description = "Lease of the credentials (revoke it when done: `vault lease revoke <id>`)."
  value       = module.credentials.lease_id
}

output "expiration" {
  description = "When the credentials expire."
  value       = module.credentials.expiration
}
