output "user_arn" {
  description = "ARN of the broker's IAM user: trust it in each target role (module `aws-target-role`)."
  value       = try(aws_iam_user.this[0].arn, null)
}

output "user_name" {
  description = "Name of the broker's IAM user (create its access key out of band, then `vault write aws/config/root`)."
  value       = try(aws_iam_user.this[0].name, null)
}

output "role_arn" {
  description = "ARN of the broker's IAM role."
  value       = try(aws_iam_role.this[0].arn, null)
}

output "role_name" {
  description = "Name of the broker's IAM role."
  value       = try(aws_iam_role.this[0].name, null)
}

output "policy_arn" {
  description = "ARN of the broker's least-privilege policy."
  value       = try(aws_iam_policy.this[0].arn, null)
}

output "policy_json" {
  description = "The least-privilege policy document."
  value       = try(data.aws_iam_policy_document.this[0].json, null)
}

output "managed_user_arn_pattern" {
  description = "ARN pattern of the users the broker may manage (`user<managed_user_path>vault-*`)."
  value       = var.create ? local.managed_users : null
}

output "assumable_role_arn_patterns" {
  description = "ARN patterns of the roles the broker may assume."
  value       = var.create ? local.assumable_roles : null
}
