import { AuthForm } from "@/components/auth-form";

export default function SignIn() {
  return <AuthForm mode="sign-in" />;
}
