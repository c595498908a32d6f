import { AuthForm } from "@/components/auth-form";

export default function SignUp() {
  return <AuthForm mode="sign-up" />;
}
