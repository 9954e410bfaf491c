output "caller_arn" {
  description = "Who Terraform acted as: the identity of the ephemeral credentials."
  value       = data.aws_caller_identity.current.arn
}

output "bucket" {
  description = "The bucket created with the ephemeral credentials."
  value       = aws_s3_bucket.this.id
}

output "bucket_after_pause" {
  description = "The bucket created after the pause (`null` without one)."
  value       = try(aws_s3_bucket.after_pause[0].id, null)
}
