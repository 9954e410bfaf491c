# policy: aws-app-policy.hcl (the walkthrough's, unchanged)
# Allow reading only specific AWS roles
path "aws/creds/app-s3-role" {
  capabilities = ["read"]
}

path "aws/creds/app-dynamo-role" {
  capabilities = ["read"]
}

# Deny access to admin roles
path "aws/creds/admin-*" {
  capabilities = ["deny"]
}
