import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsObject, IsOptional, IsString, IsUUID, Length, Matches } from 'class-validator';
import { MFA_POLICIES, MfaPolicy } from '../../tenants/tenant.entity';
import { PASSKEY_NAME_MAX } from '../factors.service';

const WEBAUTHN_DESCRIPTION =
  'The credential from navigator.credentials.get(), as JSON (what @simplewebauthn/browser returns)';

/** One answer to a second-factor question; exactly one of code, recoveryCode, webauthn. */
export class FactorAnswerDto {
  @ApiPropertyOptional({ example: '123456', description: 'A code from the authenticator app' })
  @IsOptional()
  @IsString()
  @Matches(/^\s*\d{6}\s*$/, { message: 'code must be the 6 digits from your authenticator app' })
  code?: string;

  @ApiPropertyOptional({ example: 'abcd-efgh-jkmn', description: 'One of the recovery codes' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  recoveryCode?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: WEBAUTHN_DESCRIPTION })
  @IsOptional()
  @IsObject()
  webauthn?: Record<string, unknown>;
}

export class LoginMfaDto extends FactorAnswerDto {
  @ApiProperty({ description: 'The challenge POST /auth/login answered with' })
  @IsString()
  @Length(1, 200)
  challenge: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'The tenant to sign in to, for a person in several' })
  @IsOptional()
  @IsUUID()
  tenantId?: string;
}

export class StepUpDto extends FactorAnswerDto {
  @ApiPropertyOptional({ description: 'With webauthn: the challenge POST /auth/step-up/options answered with' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  challenge?: string;
}

export class PasskeySignInDto {
  @ApiProperty({ description: 'The challenge POST /auth/passkey/options answered with' })
  @IsString()
  @Length(1, 200)
  challenge: string;

  @ApiProperty({ type: 'object', additionalProperties: true, description: WEBAUTHN_DESCRIPTION })
  @IsObject()
  webauthn: Record<string, unknown>;

  @ApiPropertyOptional({ format: 'uuid', description: 'The tenant to sign in to, for a person in several' })
  @IsOptional()
  @IsUUID()
  tenantId?: string;
}

export class ConfirmTotpDto {
  @ApiProperty({ example: '123456' })
  @IsString()
  @Matches(/^\s*\d{6}\s*$/, { message: 'code must be the 6 digits from your authenticator app' })
  code: string;
}

export class AddPasskeyDto {
  @ApiProperty({ description: 'The challenge POST /auth/mfa/passkeys/options answered with' })
  @IsString()
  @Length(1, 200)
  challenge: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The credential from navigator.credentials.create(), as JSON',
  })
  @IsObject()
  webauthn: Record<string, unknown>;

  @ApiProperty({ example: 'Laptop', maxLength: PASSKEY_NAME_MAX })
  @IsString()
  @Length(1, PASSKEY_NAME_MAX)
  @Matches(/\S/, { message: 'name must not be blank' })
  name: string;
}

export class RenamePasskeyDto {
  @ApiProperty({ example: 'Phone', maxLength: PASSKEY_NAME_MAX })
  @IsString()
  @Length(1, PASSKEY_NAME_MAX)
  @Matches(/\S/, { message: 'name must not be blank' })
  name: string;
}

export class MfaPolicyDto {
  @ApiProperty({
    enum: MFA_POLICIES,
    description: 'optional: nobody must; admins: owners and admins must; everyone: every member must',
  })
  @IsIn(MFA_POLICIES)
  policy: MfaPolicy;
}

// --- responses ------------------------------------------------------------------------------

export class PasskeyResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  name: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: Date;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastUsedAt: Date | null;

  @ApiProperty({ description: 'Synced to other devices by its provider' })
  backedUp: boolean;
}

export class FactorStatusResponse {
  @ApiProperty({ description: 'An authenticator app is set up' })
  totp: boolean;

  @ApiProperty({ type: [PasskeyResponse] })
  passkeys: PasskeyResponse[];

  @ApiProperty()
  recoveryCodesLeft: number;
}

export class TotpEnrolmentResponse {
  @ApiProperty({ description: 'Base32, for typing into the app by hand; shown once' })
  secret: string;

  @ApiProperty({ description: 'otpauth:// URI, what the QR code holds' })
  uri: string;

  @ApiProperty({ description: 'The QR code as an SVG document' })
  qrSvg: string;
}

export class RecoveryCodesResponse {
  @ApiProperty({
    type: [String],
    nullable: true,
    description: 'Ten single-use codes, shown only now; null when the person already had codes',
  })
  recoveryCodes: string[] | null;
}

export class PasskeyAddedResponse extends RecoveryCodesResponse {
  @ApiProperty({ type: PasskeyResponse })
  passkey: PasskeyResponse;
}

export class WebAuthnOptionsResponse {
  @ApiProperty({ description: 'Send back with the answer; single use, 5 minutes' })
  challenge: string;

  @ApiProperty({ type: String, format: 'date-time' })
  expiresAt: Date;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'Hand to navigator.credentials (@simplewebauthn/browser)',
  })
  webauthn: Record<string, unknown>;
}

export class StepUpOptionsResponse {
  @ApiProperty()
  challenge: string;

  @ApiProperty({ type: String, format: 'date-time' })
  expiresAt: Date;

  @ApiProperty({ enum: ['totp', 'webauthn', 'recovery_code'], isArray: true })
  methods: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  webauthn?: Record<string, unknown>;
}

export class StepUpResponse {
  @ApiProperty({
    type: String,
    format: 'date-time',
    description: 'Sensitive actions are allowed for 5 minutes from then',
  })
  factorVerifiedAt: Date;
}

export class MfaRequiredResponse {
  @ApiProperty({ enum: [true] })
  mfa_required: true;

  @ApiProperty({ description: 'Send to POST /auth/login/mfa with the second factor; single use, 5 minutes' })
  challenge: string;

  @ApiProperty({ type: String, format: 'date-time' })
  expiresAt: Date;

  @ApiProperty({ enum: ['totp', 'webauthn', 'recovery_code'], isArray: true })
  methods: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'When the person has passkeys' })
  webauthn?: Record<string, unknown>;
}

export class MfaPolicyResponse {
  @ApiProperty({ enum: MFA_POLICIES })
  policy: MfaPolicy;
}
