output "arn" {
  description = "ARN of the role: put it in the vaultlet role's `role_arns`."
  value       = try(aws_iam_role.this[0].arn, null)
}

output "name" {
  description = "Name of the role."
  value       = try(aws_iam_role.this[0].name, null)
}

output "unique_id" {
  description = "Stable unique id of the role."
  value       = try(aws_iam_role.this[0].unique_id, null)
}

output "max_session_duration" {
  description = "Longest session the role allows, in seconds."
  value       = try(aws_iam_role.this[0].max_session_duration, null)
}

output "external_id" {
  description = "External id the broker must send (vaultlet role setting `external_id`). Sensitive, as it is half of the confused-deputy guard."
  value       = var.external_id
  sensitive   = true
}

output "assume_role_policy" {
  description = "The trust policy document (JSON)."
  value       = try(data.aws_iam_policy_document.assume[0].json, null)
}
