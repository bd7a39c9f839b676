import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { ForwardAuthController } from './forward-auth.controller';
import { ForwardAuthKeyCredential } from './forward-auth.credential';
import { RequiredScopeRules } from './required-scopes';

@Module({
  imports: [ApiKeysModule],
  controllers: [ForwardAuthController],
  providers: [ForwardAuthKeyCredential, RequiredScopeRules],
})
export class ForwardAuthModule {}
