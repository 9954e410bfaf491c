output "caller_arn" {
  description = "Who Terraform acted as at plan time."
  value       = data.aws_caller_identity.current.arn
}

output "buckets" {
  description = "The bucket created before the pause and the one created after it."
  value       = [aws_s3_bucket.before.id, aws_s3_bucket.after.id]
}
